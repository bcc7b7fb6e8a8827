"""The processes of docker-compose.yml, run as written there, in production mode (DEBUG off).

Docker is not available where this suite runs, so the containers themselves are not tested;
this runs their exact commands (web, worker, the web healthcheck) against the suite's
PostgreSQL and Redis with the production environment the compose file and docs describe.
"""

import asyncio
import http.client
import json
import subprocess
import sys

import pytest
import yaml
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.db import connections
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ingest.models import ChatSource
from tests.procs import ROOT, free_port, process_group
from tests.ws import session_cookie

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

HOST = "chorus.example.com"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture
def group(transactional_db, tmp_path):
    with process_group(
        tmp_path,
        DEBUG="false",
        ALLOWED_HOSTS=HOST,
        BEHIND_TLS_PROXY="true",
        INGEST_SOURCE_SYNC_SECONDS="0.3",
        STATIC_ROOT=str(tmp_path / "static"),
    ) as g:
        yield g


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    await sync_to_async(connections.close_all)()  # see test_scaleout_websockets.py


def python_args(command: list[str], port: int | None = None) -> list[str]:
    """A compose command as arguments for this interpreter (uvicorn -> -m uvicorn)."""
    if command[0] == "uvicorn":
        args = ["-m", "uvicorn", *command[1:]]
    else:
        assert command[0] == "python", command
        args = list(command[1:])
    if port is not None:
        args[args.index("--host") + 1] = "127.0.0.1"
        args[args.index("--port") + 1] = str(port)
    return args


def get(port, path, **headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": HOST, **headers})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


async def test_compose_web_and_worker_commands_serve_in_production_mode(group):
    port = free_port()
    web = group.start("web", python_args(COMPOSE["services"]["web"]["command"], port), port=port)
    group.start("worker", python_args(COMPOSE["services"]["worker"]["command"]))
    await asyncio.to_thread(group.wait_http, web, "/api/health/")

    # The compose healthcheck, verbatim except the port.
    check = COMPOSE["services"]["web"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    script = check[3].replace("8000", str(port))
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        env=group.env,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr

    # Production mode is really on: plain HTTP is redirected, HTTPS (per the proxy) gets HSTS.
    plain = await asyncio.to_thread(get, port, "/api/health/")
    assert plain.status == 301 and plain.getheader("Location") == f"https://{HOST}/api/health/"
    secure = await asyncio.to_thread(get, port, "/api/health/", **{"X-Forwarded-Proto": "https"})
    assert secure.status == 200
    assert "max-age=31536000" in secure.getheader("Strict-Transport-Security")
    wrong_host = await asyncio.to_thread(get, port, "/api/health/", Host="evil.example")
    assert wrong_host.status == 400

    user = await sync_to_async(User.objects.create_user)("mod", password="x" * 20)
    await sync_to_async(user.groups.add)(
        (await sync_to_async(Group.objects.get_or_create)(name="moderator"))[0]
    )
    cookie = await session_cookie(user)
    url = f"ws://127.0.0.1:{port}/ws/moderation/"
    headers = {"Cookie": cookie, "Host": HOST}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url, origin="https://evil.example", additional_headers=headers, proxy=None
        ):
            pass
    assert refused.value.response.status_code == 403
    async with connect(
        url, origin=f"https://{HOST}", additional_headers=headers, proxy=None, open_timeout=10
    ) as sock:
        hello = json.loads(await asyncio.wait_for(sock.recv(), 10))
        assert hello["type"] == "hello" and hello["user"] == "mod"
        src = await sync_to_async(ChatSource.objects.create)(
            platform="demo",
            identifier="compose",
            settings={"rate": 20, "mix": "plain", "max_events": 2},
        )
        got = set()
        async with asyncio.timeout(15):
            while len(got) < 2:
                frame = json.loads(await sock.recv())
                if frame["type"] == "chat.messages":
                    got |= {m["platform_message_id"] for m in frame["messages"]}
        assert got == {f"demo-{src.pk}-0", f"demo-{src.pk}-1"}
