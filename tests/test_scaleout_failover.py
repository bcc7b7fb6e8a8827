"""Scale-out: two ingest workers, one source. Exactly one ingests; when it dies the other takes
over within a bounded time and resumes from the stored cursor: no message twice, none missing."""

import os
import signal
import socket
import time

import pytest
import redis

from ingest.models import ChatMessage, ChatSource
from tests.procs import process_group

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

LEASE = 2.0
SYNC = 0.5
# Worst case: the victim renewed just before dying (lease runs LEASE more seconds), then the
# survivor's next sync (<= SYNC) acquires it. The margin covers Redis expiry lag and a busy CI.
TAKEOVER_BOUND = LEASE + SYNC + 3.5


@pytest.fixture
def group(transactional_db, tmp_path):
    with process_group(tmp_path, INGEST_LEASE_SECONDS=LEASE, INGEST_SOURCE_SYNC_SECONDS=SYNC) as g:
        yield g


def wait_for(what: str, predicate, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stored_numbers(src) -> list[int]:
    ids = ChatMessage.objects.filter(source=src).values_list("platform_message_id", flat=True)
    prefix = f"demo-{src.pk}-"
    assert all(i.startswith(prefix) for i in ids)
    return sorted(int(i[len(prefix) :]) for i in ids)


def test_killed_worker_is_replaced_within_the_lease_and_nothing_is_lost_or_doubled(group):
    src = ChatSource.objects.create(
        platform="demo", identifier="failover", settings={"rate": 50, "mix": "plain"}
    )
    workers = [group.worker("worker-1"), group.worker("worker-2")]
    key = f"{group.env['CHANNEL_PREFIX']}:lease:source:{src.pk}"
    r = redis.from_url(group.env["REDIS_URL"], socket_connect_timeout=2)
    host = socket.gethostname()

    def holder_pid() -> int | None:
        token = r.get(key)  # "<host>:<pid>:<random>"
        return int(token.decode().rsplit(":", 2)[1]) if token else None

    try:
        wait_for(
            "the first messages",
            lambda: ChatMessage.objects.filter(source=src).count() >= 50,
            timeout=25,
        )
        first = holder_pid()
        victim = next((w for w in workers if w.pid == first), None)
        assert victim is not None, f"lease {key} held by {first}, not by one of our workers"
        survivor = next(w for w in workers if w is not victim)
        assert survivor.alive(), survivor.log()
        # Health says who ingests, whichever process the dashboard is served by.
        wait_for(
            "status_worker of the holder",
            lambda: ChatSource.objects.filter(
                pk=src.pk, status="connected", status_worker=f"{host}:{victim.pid}"
            ).exists(),
            timeout=5,
        )

        group.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        count_at_kill = ChatMessage.objects.filter(source=src).count()

        wait_for("the survivor to take the lease", lambda: holder_pid() == survivor.pid, 10)
        takeover = time.monotonic() - killed_at
        wait_for(
            "new messages from the survivor",
            lambda: ChatMessage.objects.filter(source=src).count() > count_at_kill,
            timeout=10,
        )
        resumed = time.monotonic() - killed_at
        print(f"\nTAKEOVER: lease after {takeover:.2f} s, new messages after {resumed:.2f} s")
        assert takeover < TAKEOVER_BOUND, f"takeover took {takeover:.2f} s"
        assert resumed < TAKEOVER_BOUND + 1, f"ingest resumed after {resumed:.2f} s"

        # It keeps going (not one batch and stop), and health names the new worker.
        wait_for(
            "ingest to keep growing",
            lambda: ChatMessage.objects.filter(source=src).count() >= count_at_kill + 100,
            timeout=15,
        )
        wait_for(
            "status_worker of the survivor",
            lambda: ChatSource.objects.filter(
                pk=src.pk, status="connected", status_worker=f"{host}:{survivor.pid}"
            ).exists(),
            timeout=5,
        )

        # A graceful stop (SIGTERM) drains the pipeline and releases the lease at once.
        assert group.kill(survivor, signal.SIGTERM, timeout=15) == 0, survivor.log()
        assert r.get(key) is None, "a stopped worker must release its lease"
    finally:
        r.close()

    numbers = stored_numbers(src)
    # No duplicates (the unique constraint guarantees it; this proves the dedup path held)...
    assert len(numbers) == len(set(numbers))
    # ...and no gap: the survivor resumed from the stored cursor, not from "now".
    assert numbers == list(range(len(numbers))), (
        f"gap in demo ids: missing {sorted(set(range(numbers[-1] + 1)) - set(numbers))[:20]}"
    )
    src.refresh_from_db()
    assert src.cursor == str(numbers[-1])
    assert src.status == "stopped"


def test_a_paused_worker_that_wakes_up_after_losing_its_lease_backs_off(group):
    """Split brain: the holder freezes (GC pause, VM stall) longer than its lease; the other
    worker takes over; when the frozen one wakes up it must notice and stop, and whatever both
    wrote in the overlap is stored once."""
    src = ChatSource.objects.create(
        platform="demo", identifier="paused", settings={"rate": 50, "mix": "plain"}
    )
    workers = [group.worker("worker-1"), group.worker("worker-2")]
    key = f"{group.env['CHANNEL_PREFIX']}:lease:source:{src.pk}"
    r = redis.from_url(group.env["REDIS_URL"], socket_connect_timeout=2)

    def holder_pid() -> int | None:
        token = r.get(key)
        return int(token.decode().rsplit(":", 2)[1]) if token else None

    try:
        wait_for(
            "the first messages",
            lambda: ChatMessage.objects.filter(source=src).count() >= 20,
            timeout=25,
        )
        first = holder_pid()
        frozen = next(w for w in workers if w.pid == first)
        other = next(w for w in workers if w is not frozen)

        os.killpg(frozen.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        wait_for("the other worker to take the lease", lambda: holder_pid() == other.pid, 10)
        assert time.monotonic() - stopped_at < TAKEOVER_BOUND
        count = ChatMessage.objects.filter(source=src).count()
        wait_for(
            "the other worker to ingest",
            lambda: ChatMessage.objects.filter(source=src).count() >= count + 25,
            timeout=10,
        )

        os.killpg(frozen.pid, signal.SIGCONT)
        group.wait_log(frozen, f"lost the lease on source {src.pk}", timeout=LEASE + 3)
        # It stays out: the lease remains with the other worker, which keeps ingesting.
        count = ChatMessage.objects.filter(source=src).count()
        time.sleep(1.0)
        assert holder_pid() == other.pid
        assert frozen.alive(), frozen.log()
        assert ChatMessage.objects.filter(source=src).count() > count + 10
        assert group.kill(other, signal.SIGTERM, timeout=15) == 0, other.log()
        assert group.kill(frozen, signal.SIGTERM, timeout=15) == 0, frozen.log()
    finally:
        r.close()

    numbers = stored_numbers(src)
    assert len(numbers) == len(set(numbers))
    assert numbers == list(range(len(numbers))), "gap in demo ids"


def terminate_connections(application_name: str) -> int:
    """What a PostgreSQL restart does to the workers: their connections are cut. (Only theirs:
    connections of this test process, e.g. asgiref's thread, belong to other tests.)"""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return cur.fetchone()[0]


def test_workers_survive_a_database_restart(group):
    """PostgreSQL restarts (or fails over): the workers' connections die. A busy worker and an
    idle stand-by must both reconnect (the stand-by still takes new sources), dropping nothing."""
    app_name = f"chorus-{group.env['CHANNEL_PREFIX']}"
    group.env["DATABASE_URL"] += f"?application_name={app_name}"
    busy_src = ChatSource.objects.create(
        platform="demo", identifier="db-restart", settings={"rate": 50, "mix": "plain"}
    )
    busy = group.worker("busy")
    wait_for(
        "the first messages",
        lambda: ChatMessage.objects.filter(source=busy_src).count() >= 20,
        timeout=25,
    )
    idle = group.worker("idle")  # starts after the busy one holds the only source
    group.wait_log(idle, "started", timeout=20)
    time.sleep(2 * SYNC)  # it has synced (and found nothing free) at least once
    # (The idle worker may hold no connection right now: the supervisor closes expired ones.)
    assert terminate_connections(app_name) >= 1
    count = ChatMessage.objects.filter(source=busy_src).count()
    wait_for(
        "ingest to resume after the database dropped the connections",
        lambda: ChatMessage.objects.filter(source=busy_src).count() >= count + 50,
        timeout=10,
    )
    # The busy worker goes away: the idle one (whose connection also died) must take over.
    assert group.kill(busy, signal.SIGTERM, timeout=15) == 0, busy.log()
    count = ChatMessage.objects.filter(source=busy_src).count()
    wait_for(
        "the idle worker to take the source over",
        lambda: ChatMessage.objects.filter(source=busy_src).count() >= count + 25,
        timeout=TAKEOVER_BOUND + 3,
    )
    assert group.kill(idle, signal.SIGTERM, timeout=15) == 0, idle.log()
    numbers = stored_numbers(busy_src)
    assert numbers == list(range(len(numbers))), "events were dropped while reconnecting"
