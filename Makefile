# Chorus: two commands on a fresh machine.
#   make run   - bootstrap .venv, migrate, seed a demo, serve http://127.0.0.1:8000
#   make test  - ruff + the whole pytest suite, embedded AND scale-out (PostgreSQL + Redis)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: run test test-embedded test-scaleout lint bench venv serve worker clean

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Chorus needs Python 3.11"' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

.env:
	$(PY) bin/make-env .env

run: venv .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Chorus: http://$(HOST):$(PORT)/  (dashboard /dashboard/, admin /admin/, API docs /api/docs)"
	$(PY) manage.py serve $(HOST):$(PORT)

lint: venv
	$(VENV)/bin/ruff check .

test: lint test-embedded test-scaleout

test-embedded: venv
	@echo "== embedded suite: SQLite file (WAL, as in production) + in-memory channel layer =="
	@db=$$(mktemp -u /tmp/chorus-test-XXXXXX.sqlite3); \
	env -u DATABASE_URL -u REDIS_URL CHORUS_TEST_SQLITE=$$db $(VENV)/bin/pytest -m "not scaleout" $(PYTEST_ARGS); \
	rc=$$?; rm -f $$db $$db-wal $$db-shm; exit $$rc

test-scaleout: venv
	@echo "== scale-out suite: PostgreSQL + Redis channel layer =="
	@if bin/services-up "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
	  DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest $(PYTEST_ARGS); \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "CI=true: PostgreSQL or Redis is missing; the scale-out suite may not be skipped"; exit 1; \
	else \
	  echo "SKIPPED scale-out suite: PostgreSQL ($(TEST_DATABASE_URL)) or Redis ($(TEST_REDIS_URL)) is not running"; \
	fi

bench: venv
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
