# Chorus production image: one image for the web servers (uvicorn), the ingest workers
# (`python manage.py run_ingest`) and the one-shot migration. See docs/deployment.md.
# (Written and statically checked on a machine without Docker: not built there.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=pollsite.settings \
    CHORUS_DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

RUN groupadd --system --gid 10001 chorus \
 && useradd --system --uid 10001 --gid chorus --home-dir /app --shell /usr/sbin/nologin chorus

# Dependencies first (cached layer): every package is pinned, all ship manylinux wheels.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time with DEBUG off (hashed, compressed names served by
# WhiteNoise). Settings refuse to load without secrets when DEBUG is off, so this step gets
# throwaway ones generated on the spot; they are not kept in the image. The real secrets
# come from the environment at run time (.env -> docker-compose.yml).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    CHORUS_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    DEBUG=false CHORUS_DATA_DIR=/tmp/build-data \
    python manage.py collectstatic --noinput \
 && rm -rf /tmp/build-data \
 && mkdir -p /data/media \
 && chown -R chorus:chorus /data

USER chorus
VOLUME ["/data"]
EXPOSE 8000

# The web server. Behind the reverse proxy of docker-compose.yml; --proxy-headers makes
# uvicorn trust X-Forwarded-For/Proto from it (web is not published on the host).
CMD ["uvicorn", "pollsite.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--proxy-headers", "--forwarded-allow-ips", "*", "--no-server-header"]
