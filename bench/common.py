"""Shared helpers for the Chorus benchmarks (bench/*.py are scripts, not tests).

- ``bench_env``: the environment a bench server/worker runs with (embedded or scale-out).
- ``prepare_django``: configure Django in the bench process itself (migrate, create a moderator,
  mint a session cookie) so the clients log in exactly like a browser does.
- ``Proc`` / ``start_server`` / ``start_worker``: subprocesses with bounded start-up waits, peak
  RSS (/proc/<pid>/status VmHWM) and CPU time, always killed on exit.
- ``connect_dashboards``: N authenticated websocket clients (real ``websockets`` library).
- ``percentile``: nearest-rank percentiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():
    PYTHON = sys.executable

# Resources reserved for the benches on a shared machine (see bench/README.md).
PORT_RANGE = range(8300, 8400)
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "chorus_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
CHANNEL_PREFIX = os.environ.get("BENCH_CHANNEL_PREFIX", "bench")


# --- numbers ---------------------------------------------------------------------------------
def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def median(values: list[float]) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


# --- /proc -----------------------------------------------------------------------------------
def proc_status_kb(pid: int, field: str) -> int | None:
    """A kB field of /proc/<pid>/status (VmHWM = peak RSS, VmRSS = current RSS)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds consumed by a process so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError):
        return None


def proc_sched_seconds(pid: int) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for a CPU), summed over all threads.

    The second number is how much a busy machine (other processes) delayed this one: on a
    shared 2-core box it explains most of the latency noise.
    """
    on_cpu = waiting = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                a, b, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):
                continue
            on_cpu += int(a)
            waiting += int(b)
    except OSError:
        return None
    return on_cpu / 1e9, waiting / 1e9


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# --- ports -----------------------------------------------------------------------------------
def free_port(taken: set[int] | None = None) -> int:
    """A free TCP port in the bench range (8300-8399)."""
    taken = taken or set()
    for port in PORT_RANGE:
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")


def wait_port(port: int, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# --- environment -----------------------------------------------------------------------------
def bench_env(mode: str, data_dir: str, **extra: str) -> dict[str, str]:
    """Environment for the bench process and its servers: production-like (DEBUG off)."""
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX", "INGEST_IN_PROCESS")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pollsite.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CHORUS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "CHORUS_DATA_DIR": data_dir,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if mode == "embedded":
        env["INGEST_IN_PROCESS"] = "true"
    elif mode == "scaleout":
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        env["DATABASE_URL"] = f"{base}/{PG_DB}"
        env["REDIS_URL"] = REDIS_URL
        env["CHANNEL_PREFIX"] = CHANNEL_PREFIX
        env["INGEST_IN_PROCESS"] = "false"
    else:
        raise ValueError(f"unknown mode {mode!r}")
    env.update(extra)
    return env


def reset_scaleout_services() -> None:
    """Fresh bench database and an empty Redis db (only ours: chorus_bench*, db 4)."""
    import psycopg
    import redis

    assert PG_DB.startswith("chorus_bench"), "the bench only ever drops chorus_bench* databases"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    redis.from_url(REDIS_URL, socket_connect_timeout=5).flushdb()


def prepare_django(env: dict[str, str]):
    """Set up Django in this process with the bench environment; migrate; return a moderator's
    session cookie (``name=value``)."""
    os.environ.update(env)
    for k in ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX"):
        if k not in env:
            os.environ.pop(k, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = User.objects.get_or_create(username="bench-moderator")
    user.set_password(secrets.token_urlsafe(24))
    user.save()
    user.groups.add(Group.objects.get_or_create(name="moderator")[0])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


# --- processes -------------------------------------------------------------------------------
class Proc:
    """A child process (its own process group) we always clean up."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: str):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def peak_rss_mb(self) -> float | None:
        kb = proc_status_kb(self.pid, "VmHWM")
        return kb / 1024 if kb is not None else None

    def cpu_seconds(self) -> float | None:
        return proc_cpu_seconds(self.pid)

    def sched_seconds(self) -> tuple[float, float] | None:
        return proc_sched_seconds(self.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(
    env: dict[str, str],
    port: int,
    log_dir: str,
    *,
    name: str = "server",
    ws: str = "websockets",
    loop: str = "uvloop",
    deflate: bool = False,
    extra_args: list[str] | None = None,
    timeout: float = 40,
) -> Proc:
    """uvicorn serving pollsite.asgi:application on 127.0.0.1:<port> (lifespan on)."""
    argv = [
        PYTHON,
        "-m",
        "uvicorn",
        "pollsite.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "on",
        "--loop",
        loop,
        "--http",
        "httptools",
        "--ws",
        ws,
        "--ws-per-message-deflate",
        "true" if deflate else "false",
        "--no-access-log",
        "--log-level",
        "warning",
        *(extra_args or []),
    ]
    proc = Proc(name, argv, env, log_dir)
    try:
        wait_port(port, timeout, proc.popen)
    except Exception:
        print(proc.tail(), file=sys.stderr)
        proc.stop()
        raise
    return proc


def start_worker(env: dict[str, str], log_dir: str, name: str = "worker") -> Proc:
    """The scale-out ingest worker (manage.py run_ingest)."""
    return Proc(name, [PYTHON, "manage.py", "run_ingest"], env, log_dir)


def temp_dir(prefix: str = "chorus-bench-") -> str:
    return tempfile.mkdtemp(prefix=prefix)


# --- websocket clients -----------------------------------------------------------------------
async def connect_dashboards(
    port: int | list[int],
    cookie: str,
    n: int,
    path: str = "/ws/moderation/",
    timeout: float = 20,
    compression: bool = False,
):
    """Open ``n`` logged-in websockets (spread round-robin over ports); each has sent hello.

    Returns a list of (websocket, hello_frame).
    """
    import json

    from websockets.asyncio.client import connect

    ports = port if isinstance(port, list) else [port]

    async def one(i: int):
        p = ports[i % len(ports)]
        ws = await connect(
            f"ws://127.0.0.1:{p}{path}",
            origin=f"http://127.0.0.1:{p}",
            additional_headers={"Cookie": cookie},
            compression="deflate" if compression else None,
            max_size=None,
            max_queue=None,  # never let the client library apply backpressure on the server
            open_timeout=timeout,
            ping_interval=None,
        )
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if hello.get("type") != "hello":
            raise RuntimeError(f"dashboard {i}: expected hello, got {hello!r:.200}")
        return ws, hello

    return await asyncio.gather(*(one(i) for i in range(n)))
