"""Overlay fan-out: one featured-message change delivered to N connected overlay sockets.

    .venv/bin/python bench/fanout.py                       # N = 100, 1000, 2000 (embedded)
    .venv/bin/python bench/fanout.py --sockets 2000 --rounds 10
    .venv/bin/python bench/fanout.py --mode scaleout       # PostgreSQL + Redis channel layer

What happens per round, exactly as in production: a moderator's ``message.update`` command
(pin / unpin a featured message) on the moderation socket -> ingest.services.update_message ->
overlays.signals (post_save, on commit) -> overlays.live hub (coalesced; one featured_state query)
-> ONE ``featured.state`` frame rendered once -> channel-layer group of N overlay sockets -> every
socket. Latency = arrival at each overlay client - the moment the command was sent; the clients
(real ``websockets`` library, no Origin header, like OBS) run in this process and timestamp a
frame on arrival without parsing it.

Memory per connection = (server RSS with N overlays connected - RSS before) / N.
The machine is shared: the figures include whatever else runs. Run it alone when it matters.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    bench_env,
    free_port,
    percentile,
    prepare_django,
    proc_cpu_seconds,
    proc_status_kb,
    reset_scaleout_services,
    self_cpu_seconds,
    start_server,
    temp_dir,
)

FEATURED = b'{"type":"featured.state"'


def setup_meeting() -> tuple[str, int, int]:
    """A meeting with a chat source, one stored message selected for display, a featured
    overlay. Returns (overlay token, message id, meeting id)."""
    from django.utils import timezone

    from ingest.models import ChatSource
    from ingest.store import store_batch
    from overlays import services
    from overlays.models import DisplaySettings
    from polls.models import Meeting
    from tests.factories import msg

    src = ChatSource.objects.create(platform="demo", identifier=f"fanout-{time.time_ns()}")
    m = Meeting.objects.create(title="Fan-out bench")
    m.sources.add(src)
    DisplaySettings.objects.create(meeting=m, rotation_seconds=10)
    store_batch([msg(src, 1, text="Featured message for the fan-out bench", at=timezone.now())])
    message = src.messages.get()
    src.messages.update(display_selected=True, display_order=1)
    _, token = services.create_overlay(meeting=m, kind="featured")
    return token, message.pk, m.pk


class Overlay:
    """One overlay client: records when each featured.state frame arrives."""

    def __init__(self, ws, arrivals: list[float]):
        self.ws = ws
        self.arrivals = arrivals

    async def run(self):
        try:
            async for data in self.ws:
                now = time.perf_counter()
                raw = data.encode() if isinstance(data, str) else data
                if raw.startswith(FEATURED):
                    self.arrivals.append(now)
        except Exception:
            pass


async def open_overlays(port: int, token: str, n: int, arrivals: list[float], batch: int = 100):
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws/overlay/{token}/"
    clients: list[Overlay] = []

    async def one():
        ws = await connect(url, open_timeout=60, max_size=2**22, compression=None)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert hello["type"] == "hello", hello
        return Overlay(ws, arrivals)

    for start in range(0, n, batch):
        clients += await asyncio.gather(*(one() for _ in range(min(batch, n - start))))
    tasks = [asyncio.create_task(c.run()) for c in clients]
    return clients, tasks


async def moderator(port: int, cookie: str):
    from websockets.asyncio.client import connect

    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/moderation/",
        additional_headers={"Cookie": cookie},
        origin=f"http://127.0.0.1:{port}",
        compression=None,
        max_size=2**24,
    )
    while json.loads(await ws.recv())["type"] != "hello":
        pass
    return ws


async def command(ws, ref: str, frame: dict) -> None:
    await ws.send(json.dumps({**frame, "ref": ref}))
    while True:
        data = json.loads(await ws.recv())
        if data.get("ref") == ref:
            if data["type"] != "ack":
                raise RuntimeError(f"command failed: {data}")
            return


def rss_kb(pid: int) -> int:
    return proc_status_kb(pid, "VmRSS") or 0


async def measure(port: int, pid: int, token: str, message_id: int, cookie: str, n: int,
                  rounds: int, warmup: int = 0) -> dict:
    arrivals: list[float] = []
    mod = await moderator(port, cookie)
    await asyncio.sleep(1.0)
    before = rss_kb(pid)
    t_connect = time.perf_counter()
    clients, tasks = await open_overlays(port, token, n, arrivals)
    connect_s = time.perf_counter() - t_connect
    await asyncio.sleep(1.0)
    after = rss_kb(pid)
    latencies: list[float] = []
    missing = 0
    # The clients' own garbage collector must not pause the measurement (it is the server's
    # latency we measure): collect now, then no automatic collection during the rounds.
    gc.collect()
    gc.disable()
    cpu0, self0 = proc_cpu_seconds(pid) or 0.0, self_cpu_seconds()
    for r in range(-warmup, rounds):
        arrivals.clear()
        t0 = time.perf_counter()
        await command(mod, f"r{r}", {"type": "message.update", "message_id": message_id,
                                     "pinned": r % 2 == 0})
        deadline = time.perf_counter() + 10
        while len(arrivals) < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        got = list(arrivals)
        if r < 0:  # warm-up round: not counted
            await asyncio.sleep(0.3)
            continue
        if os.environ.get("FANOUT_VERBOSE"):
            last = (max(got) - t0) * 1000 if got else None
            print(f"   round {r}: {len(got)}/{n} delivered, last after {last:.0f} ms", flush=True)
        missing += n - len(got)
        latencies += [(t - t0) * 1000 for t in got]
        await asyncio.sleep(0.3)  # past the 100 ms coalescing window: one frame per round
    server_cpu = (proc_cpu_seconds(pid) or 0.0) - cpu0
    client_cpu = self_cpu_seconds() - self0
    gc.enable()
    for c in clients:
        await c.ws.close()
    for t in tasks:
        t.cancel()
    await mod.close()
    await asyncio.sleep(3.0)  # let the server finish closing them before the next size
    latencies.sort()
    return {
        "sockets": n,
        "rounds": rounds,
        "frames": len(latencies),
        "missing": missing,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "connect_s": round(connect_s, 2),
        "rss_before_mb": round(before / 1024, 1),
        "rss_after_mb": round(after / 1024, 1),
        "kb_per_socket": round((after - before) / n, 1),
        # CPU the server / the clients spent per fan-out (includes the command and the 0.3 s
        # idle gap): what the latency would be on an otherwise idle core.
        "server_cpu_ms_per_round": round(server_cpu * 1000 / rounds, 1),
        "client_cpu_ms_per_round": round(client_cpu * 1000 / rounds, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockets", type=int, nargs="+", default=[100, 1000, 2000])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=0, help="uncounted rounds first")
    ap.add_argument("--mode", choices=["embedded", "scaleout"], default="embedded")
    ap.add_argument("--json", action="store_true", help="print one JSON object per size")
    args = ap.parse_args()

    data_dir = temp_dir("chorus-fanout-")
    env = bench_env(args.mode, data_dir, INGEST_IN_PROCESS="false")
    if args.mode == "scaleout":
        reset_scaleout_services()
    cookie = prepare_django(env)
    token, message_id, _ = setup_meeting()
    port = free_port()
    server = start_server(env, port, data_dir)
    results = []
    try:
        for n in args.sockets:
            res = asyncio.run(measure(port, server.pid, token, message_id, cookie, n, args.rounds, args.warmup))
            results.append(res)
            if args.json:
                print(json.dumps(res), flush=True)
            else:
                print(
                    f"{n:>5} sockets: p50 {res['p50_ms']:>6} ms  p99 {res['p99_ms']:>6} ms  "
                    f"max {res['max_ms']} ms  delivered {res['frames']}/{n * args.rounds}  "
                    f"memory {res['kb_per_socket']} KiB/socket "
                    f"(RSS {res['rss_before_mb']} -> {res['rss_after_mb']} MiB)  "
                    f"connect {res['connect_s']} s  CPU per fan-out: server "
                    f"{res['server_cpu_ms_per_round']} ms, clients {res['client_cpu_ms_per_round']} ms",
                    flush=True,
                )
    finally:
        server.stop()
    print(f"mode={args.mode} load={os.getloadavg()[0]:.1f} server log: {server.log_path}")


if __name__ == "__main__":
    main()
