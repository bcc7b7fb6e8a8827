"""Scale-out: two ASGI servers and an ingest worker, separate processes sharing Redis + PostgreSQL.

A moderator on server A and another on server B see the same live chat (ingested by a worker
process) and each other's changes, exactly as if they were on one server.
"""

import asyncio
import json
import signal
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.db import connections
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from consumers.protocol import validate_server_frame
from ingest.models import ChatMessage, ChatSource
from tests.procs import process_group
from tests.ws import session_cookie

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def group(transactional_db, tmp_path):
    # transactional_db first: the processes are stopped before pytest-django flushes the DB.
    with process_group(tmp_path, INGEST_SOURCE_SYNC_SECONDS="0.3") as g:
        yield g


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    # The ORM ran in asgiref's worker thread: close its connection, or dropping the test
    # database at the end of the session fails ("being accessed by other users").
    await sync_to_async(connections.close_all)()


@sync_to_async
def make_user(name, *, staff=False, groups=()):
    user = User.objects.create_user(name, password="x" * 20, is_staff=staff)
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


def dashboard(proc, cookie: str, origin: str | None = None):
    return connect(
        f"ws://127.0.0.1:{proc.port}/ws/moderation/",
        origin=origin or f"http://127.0.0.1:{proc.port}",
        additional_headers={"Cookie": cookie},
        proxy=None,
        open_timeout=10,
        close_timeout=2,
    )


async def recv_until(sock, predicate, timeout=10.0, seen=None) -> dict:
    """Next frame matching ``predicate``; every frame must be a documented server frame."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching frame within {timeout} s; saw {seen or '?'}")
        try:
            raw = await asyncio.wait_for(sock.recv(), remaining)
        except TimeoutError:
            continue
        frame = json.loads(raw)
        validate_server_frame(frame)
        if seen is not None:
            seen.append(frame["type"])
        if predicate(frame):
            return frame


async def chat_ids(sock, wanted: set[str], timeout=15.0) -> dict[str, int]:
    """Collect chat.messages frames until every platform id in ``wanted`` arrived."""
    got: dict[str, int] = {}
    seen: list[str] = []

    def take(frame):
        if frame["type"] == "chat.messages":
            for m in frame["messages"]:
                got[m["platform_message_id"]] = m["id"]
        return wanted <= set(got)

    await recv_until(sock, take, timeout, seen)
    return got


async def test_two_servers_share_live_chat_and_moderator_changes(group):
    server_a = group.server("server-a")
    server_b = group.server("server-b")
    group.worker("worker")
    await asyncio.gather(
        asyncio.to_thread(group.wait_http, server_a), asyncio.to_thread(group.wait_http, server_b)
    )
    mod = await make_user("mod_on_a", groups=["moderator"])
    boss = await make_user("boss_on_b", staff=True)

    # A page from another origin cannot open a dashboard socket, even with a valid session.
    with pytest.raises(InvalidStatus) as refused:
        async with dashboard(server_a, await session_cookie(mod), origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403

    async with (
        dashboard(server_a, await session_cookie(mod)) as on_a,
        dashboard(server_b, await session_cookie(boss)) as on_b,
    ):
        hello_a = await recv_until(on_a, lambda f: f["type"] == "hello")
        hello_b = await recv_until(on_b, lambda f: f["type"] == "hello")
        assert hello_a["user"] == "mod_on_a" and hello_b["user"] == "boss_on_b"

        # The worker process (not either server) ingests a new source: both dashboards see it.
        src = await sync_to_async(ChatSource.objects.create)(
            platform="demo",
            identifier="cross-process",
            settings={"rate": 20, "mix": "plain", "max_events": 5},
        )
        wanted = {f"demo-{src.pk}-{n}" for n in range(5)}
        got_a, got_b = await asyncio.gather(chat_ids(on_a, wanted), chat_ids(on_b, wanted))
        assert wanted <= set(got_a) and wanted <= set(got_b)
        assert got_a[f"demo-{src.pk}-0"] == got_b[f"demo-{src.pk}-0"]
        stored = await sync_to_async(
            lambda: set(
                ChatMessage.objects.filter(source=src).values_list("platform_message_id", flat=True)
            )
        )()
        assert stored == wanted

        # A moderator on server A reviews a message; the dashboard on server B hears it.
        mid = got_a[f"demo-{src.pk}-3"]
        await on_a.send(
            json.dumps(
                {"type": "message.update", "ref": "x1", "message_id": mid, "status": "reviewed"}
            )
        )
        ack = await recv_until(on_a, lambda f: f["type"] in ("ack", "error") and f["ref"] == "x1")
        assert ack["type"] == "ack", ack
        assert ack["message"]["status"] == "reviewed"
        update = await recv_until(
            on_b, lambda f: f["type"] == "message.updated" and f["message"]["id"] == mid
        )
        assert update["by"] == "mod_on_a"
        assert update["changes"] == {"status": "reviewed"}
        assert update["message"]["status"] == "reviewed"

        # ...and B answers on its own server: A hears that too.
        await on_b.send(
            json.dumps({"type": "message.update", "ref": "x2", "message_id": mid, "pinned": True})
        )
        update = await recv_until(
            on_a, lambda f: f["type"] == "message.updated" and f["by"] == "boss_on_b"
        )
        assert update["message"]["id"] == mid and update["changes"] == {"pinned": True}

    m = await sync_to_async(ChatMessage.objects.get)(pk=mid)
    assert m.status == "reviewed" and m.pinned and m.reviewed_by_id == mod.pk


async def test_servers_and_workers_recover_when_redis_drops_their_connections(group):
    """A Redis restart/blip cuts every connection. channels-redis then fails the open sockets
    (the browser reconnects: static/chorus/socket.js); a new dashboard socket works, live chat
    from the worker reaches it again, and the worker still stops cleanly."""
    import redis.asyncio as aioredis

    name = f"chorus-{group.env['CHANNEL_PREFIX']}"
    sep = "&" if "?" in group.env["REDIS_URL"] else "?"
    group.env["REDIS_URL"] += f"{sep}client_name={name}"
    server = group.server("server")
    worker = group.worker("worker")
    await asyncio.to_thread(group.wait_http, server)
    mod = await make_user("mod", groups=["moderator"])
    cookie = await session_cookie(mod)
    src = await sync_to_async(ChatSource.objects.create)(
        platform="demo", identifier="redis-blip", settings={"rate": 20, "mix": "plain"}
    )
    async with dashboard(server, cookie) as sock:
        await recv_until(sock, lambda f: f["type"] == "hello")
        await recv_until(sock, lambda f: f["type"] == "chat.messages", timeout=15)

        r = aioredis.from_url(group.env["REDIS_URL"].split("?")[0])
        try:
            clients = [c for c in await r.client_list() if c.get("name") == name]
            assert clients, "no Redis connection carries the test's client name"
            for c in clients:
                await r.client_kill_filter(_id=c["id"])
        finally:
            await r.aclose()

    # Like the browser (socket.js): reconnect with a short backoff until the server says hello
    # (a pooled connection that died with the cut may fail one more socket).
    for _attempt in range(4):
        try:
            async with dashboard(server, cookie) as sock:
                await recv_until(sock, lambda f: f["type"] == "hello")
                # Messages stored from now on (the source has a gap-free id sequence).
                stored = await sync_to_async(ChatMessage.objects.filter(source=src).count)()
                later = {f"demo-{src.pk}-{n}" for n in range(stored + 10, stored + 15)}
                await chat_ids(sock, later, timeout=20)
                break
        except ConnectionClosed:
            await asyncio.sleep(0.5)
    else:
        raise AssertionError("no dashboard socket worked after the Redis cut")
    assert _attempt <= 1, f"needed {_attempt + 1} sockets"
    # The worker was not wedged by the cut: it stops gracefully.
    assert await asyncio.to_thread(group.kill, worker, signal.SIGTERM, 15) == 0, worker.log()
