"""Start and stop real Chorus processes (ASGI servers, ingest workers) for scale-out tests.

Every process gets its own session (process group), its output goes to a log file, every wait
is bounded, and ``ProcessGroup.close()`` kills whatever is still running. The logs are printed at
teardown: pytest shows them only when the test failed.

The processes share the test's database (pytest-django's test database: use a
``transactional_db`` test so that what the test writes is committed and visible to them), the
test's Redis (REDIS_URL), and a channel prefix unique to the test, so concurrent runs on the same
Redis database never hear each other.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """A URL for the database this test process uses right now (the pytest-django test DB)."""
    db = settings.DATABASES["default"]
    assert db["ENGINE"].endswith("postgresql"), "scale-out processes need PostgreSQL"
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{quote(db['NAME'], safe='')}"


def base_env(data_dir: Path, **overrides) -> dict[str, str]:
    """The environment every process of one test shares (same secrets, DB, Redis, prefix)."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("PYTEST_") or name.lower().endswith("_proxy"):
            env.pop(name)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pollsite.settings",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "true",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": settings.SECRET_KEY,
            "CHORUS_ENCRYPTION_KEYS": ",".join(settings.CHORUS_ENCRYPTION_KEYS),
            "DATABASE_URL": database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "CHANNEL_PREFIX": f"scaletest{secrets.token_hex(4)}",
            "INGEST_IN_PROCESS": "false",
            "CHORUS_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "INFO",
        }
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    port: int | None = None
    started: float = field(default_factory=time.monotonic)
    stop_seconds: float | None = None  # how long the final SIGTERM took (teardown)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int = 150) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-tail:])


class ProcessGroup:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    # --- starting -------------------------------------------------------------------------
    def start(self, name: str, args: list[str], port: int | None = None, **env) -> Proc:
        log_path = self.log_dir / f"{name}.log"
        out = open(log_path, "wb")  # noqa: SIM115 - the child owns it; closed below
        try:
            popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env={**self.env, **{k: str(v) for k, v in env.items()}},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killed as a whole
            )
        finally:
            out.close()
        proc = Proc(name, popen, log_path, port)
        self.procs.append(proc)
        return proc

    def server(self, name: str, **env) -> Proc:
        port = free_port()
        return self.start(
            name,
            [
                "-m",
                "uvicorn",
                "pollsite.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "on",
                "--no-access-log",
            ],
            port=port,
            **env,
        )

    def worker(self, name: str, **env) -> Proc:
        return self.start(name, ["manage.py", "run_ingest"], **env)

    def wait_http(self, proc: Proc, path: str = "/admin/login/", timeout: float = 20) -> None:
        """Wait until the server answers HTTP (any status below 500)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not proc.alive():
                raise AssertionError(
                    f"{proc.name} exited with {proc.popen.returncode} before serving:\n{proc.log()}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=2)
                conn.request("GET", path, headers={"Host": "127.0.0.1"})
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise AssertionError(
            f"{proc.name} did not answer on port {proc.port} within {timeout} s ({last}):\n"
            f"{proc.log()}"
        )

    def wait_log(self, proc: Proc, needle: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in proc.log(tail=10_000):
                return
            if not proc.alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"{proc.name} never logged {needle!r}:\n{proc.log()}")

    # --- stopping -------------------------------------------------------------------------
    def kill(self, proc: Proc, sig: int = signal.SIGKILL, timeout: float = 10) -> int:
        """Signal the process group and wait (bounded) for the process to exit."""
        if proc.alive():
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            return proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.popen.wait(timeout=5)
            raise AssertionError(
                f"{proc.name} ignored signal {sig} for {timeout} s; killed:\n{proc.log()}"
            ) from None

    def close(self) -> None:
        """SIGTERM everything still running, then SIGKILL what lingers. Never blocks long."""
        for proc in self.procs:
            if proc.alive():
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    os.killpg(proc.pid, signal.SIGCONT)  # a paused (SIGSTOP) process must hear it
                except ProcessLookupError:
                    pass
        started = time.monotonic()
        deadline = started + 8
        for proc in self.procs:
            try:
                proc.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
                proc.stop_seconds = time.monotonic() - started
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs:
            if proc.alive():  # ignored SIGTERM: kill its whole group
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    proc.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass

    def dump_logs(self) -> None:
        for proc in self.procs:
            stop = (
                f", stopped in {proc.stop_seconds:.1f} s" if proc.stop_seconds is not None else ""
            )
            print(f"\n===== {proc.name} (pid {proc.pid}, exit {proc.popen.poll()}{stop}) =====")
            print(proc.log())

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        self.dump_logs()


def forget_redis_keys(env: dict[str, str]) -> None:
    """Delete what the processes left under the test's channel prefix (groups, leases)."""
    import redis

    client = redis.from_url(env["REDIS_URL"], socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{env['CHANNEL_PREFIX']}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextlib.contextmanager
def process_group(tmp_path: Path, **env_overrides):
    """A ProcessGroup for one test; on exit: every process stopped, logs printed, keys gone."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    env = base_env(data_dir, **env_overrides)
    group = ProcessGroup(env, tmp_path)
    try:
        yield group
    finally:
        group.close()
        group.dump_logs()
        forget_redis_keys(env)
