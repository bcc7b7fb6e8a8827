"""Start a REAL headless OBS (../shared/obs/start-obs.sh) for tests."""

import os
import secrets
import shlex
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1].parent / "shared" / "obs" / "start-obs.sh"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Obs:
    port: int
    password: str
    outdir: Path
    home: str
    pid: int
    xvfb_pid: int

    def kill(self):
        for pid in (self.pid, self.xvfb_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def start_obs(
    outdir: Path, port: int | None = None, password: str | None = None, home: str | None = None
) -> Obs:
    if not SCRIPT.exists():
        msg = f"real OBS not available: {SCRIPT} is missing"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    port = port or free_port()
    password = password or secrets.token_urlsafe(12)
    args = ["bash", str(SCRIPT), str(port), password, str(outdir)] + ([home] if home else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        msg = f"start-obs.sh failed: {out.stderr[-2000:]}"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    values = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        values[key] = shlex.split(value)[0] if value else ""
    return Obs(
        port, password, outdir, values["OBS_HOME"], int(values["OBS_PID"]), int(values["XVFB_PID"])
    )
