"""Vote storm: N participants connected by websocket vote at the same moment.

    .venv/bin/python bench/vote_storm.py --n 2000                    # embedded (SQLite, in-memory layer)
    .venv/bin/python bench/vote_storm.py --n 2000 --mode scaleout    # PostgreSQL + Redis

Starts the real ASGI app under uvicorn, creates a meeting with an open poll, connects N
participant sockets (join by code) and one host dashboard socket, then every participant sends
its vote at once. Prints: connect+join time, votes/s, ack latency p50/p95/p99, the time from the
last vote sent to the host dashboard showing the final count, and checks that exactly N votes are
stored (one per participant). Exit status 1 if a vote is missing or counted twice.

Scale-out mode uses the benches' own PostgreSQL database and Redis db (bench/common.py: dropped,
re-created and flushed per run), or --database-url / --redis-url (used as they are, not reset).
Target: N=2,000, every vote counted once, ack p95 < 200 ms, final counts on the host within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    bench_env,
    free_port,
    percentile,
    reset_scaleout_services,
    start_server,
    temp_dir,
)


def setup_django(env: dict) -> dict:
    os.environ.update(env)
    for k in ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX"):
        if k not in env:
            os.environ.pop(k, None)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from polls import services
    from polls.models import Choice, Meeting, Question

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = User.objects.get_or_create(username="bench-host")
    user.set_password(secrets.token_urlsafe(24))
    user.save()
    user.groups.add(Group.objects.get_or_create(name="host")[0])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    m = Meeting.objects.create(title="Vote storm", join_code=services.unique_join_code())
    q = Question.objects.create(meeting=m, order=0, kind="poll", text="Storm?")
    choices = [Choice.objects.create(question=q, order=i, text=f"Choice {i + 1}") for i in range(4)]
    services.apply_command(m.pk, "next")
    return {
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "meeting": m.pk,
        "code": m.join_code,
        "question": q.pk,
        "choices": [c.pk for c in choices],
    }


def stored_votes(question_id: int) -> tuple[int, int]:
    from django.db import close_old_connections

    from polls.models import Vote

    qs = Vote.objects.filter(question_id=question_id)
    n, distinct = qs.count(), qs.values("participant_id").distinct().count()
    close_old_connections()
    return n, distinct


async def run(args, info, ports) -> dict:
    from websockets.asyncio.client import connect

    port = ports[0]
    url = f"ws://127.0.0.1:{port}"
    origin = f"http://127.0.0.1:{port}"
    n = args.n
    host = await connect(
        f"{url}/ws/host/{info['meeting']}/",
        origin=origin,
        additional_headers={"Cookie": info["cookie"]},
        max_size=None,
        max_queue=None,
        ping_interval=None,
        open_timeout=30,
    )
    hello = json.loads(await host.recv())
    assert hello["type"] == "hello", hello
    final = {"t": None, "frames": 0}

    async def watch_host():
        async for raw in host:
            f = json.loads(raw)
            if f["type"] == "results":
                final["frames"] += 1
                r = f["results"] or {}
                if r.get("total") == n and final["t"] is None:
                    final["t"] = time.perf_counter()
                    final["counts"] = [c["count"] for c in r["choices"]]

    watcher = asyncio.create_task(watch_host())

    sem = asyncio.Semaphore(args.connect_concurrency)

    async def join(i):
        async with sem:
            p = ports[i % len(ports)]  # participants spread over the server processes
            ws = await connect(
                f"ws://127.0.0.1:{p}/ws/meeting/{info['code']}/",
                origin=f"http://127.0.0.1:{p}",
                max_size=None,
                max_queue=None,
                ping_interval=None,
                open_timeout=60,
            )
            await ws.recv()  # hello
            await ws.send(json.dumps({"type": "join", "ref": "j", "nickname": f"p{i}"}))
            while True:
                f = json.loads(await ws.recv())
                if f.get("ref") == "j":
                    assert f["type"] == "ack", f
                    return ws

    t0 = time.perf_counter()
    socks = await asyncio.gather(*(join(i) for i in range(n)))
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # let the join-time live updates settle

    sent_at = [0.0] * n
    lat = [0.0] * n
    outcomes = {}

    async def ack(i, ws):
        while True:
            f = json.loads(await ws.recv())
            if f.get("ref") == "v":
                lat[i] = time.perf_counter() - sent_at[i]
                key = f.get("result") if f["type"] == "ack" else f.get("code")
                outcomes[key] = outcomes.get(key, 0) + 1
                return

    readers = [asyncio.create_task(ack(i, ws)) for i, ws in enumerate(socks)]
    choices = info["choices"]
    frames = [
        json.dumps(
            {
                "type": "vote",
                "ref": "v",
                "question_id": info["question"],
                "choice_id": choices[i % 4],
            }
        )
        for i in range(n)
    ]
    # The client is measured too: a collection of its 2,000 sockets' objects in the middle of the
    # storm would add its pause to every ack still on its way (the server's is tuned, see
    # ingest/runtime.py). No garbage collection in the client during the storm.
    gc.collect()
    gc.disable()
    t_start = time.perf_counter()
    for i, ws in enumerate(socks):
        sent_at[i] = time.perf_counter()
        await ws.send(frames[i])
    t_last_sent = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*readers), args.timeout)
    t_all_acked = time.perf_counter()
    deadline = time.perf_counter() + args.timeout
    while final["t"] is None and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    watcher.cancel()
    gc.enable()
    stored, distinct = await asyncio.to_thread(stored_votes, info["question"])
    for ws in [*socks, host]:
        await ws.close()
    lats = sorted(lat)
    return {
        "n": n,
        "connect_join_s": connect_s,
        "send_span_s": t_last_sent - t_start,
        "votes_per_s": n / (t_all_acked - t_start),
        "ack_p50_ms": percentile(lats, 50) * 1000,
        "ack_p95_ms": percentile(lats, 95) * 1000,
        "ack_p99_ms": percentile(lats, 99) * 1000,
        "ack_max_ms": lats[-1] * 1000,
        "last_vote_to_host_final_s": (final["t"] - t_last_sent) if final["t"] else None,
        "host_final_counts": final.get("counts"),
        "host_results_frames": final["frames"],
        "outcomes": outcomes,
        "stored": stored,
        "stored_distinct_participants": distinct,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--mode", choices=["embedded", "scaleout"], default="embedded")
    ap.add_argument("--database-url", help="scaleout: default the bench database (reset per run)")
    ap.add_argument("--redis-url", help="scaleout: default the bench Redis db (flushed per run)")
    ap.add_argument("--connect-concurrency", type=int, default=100)
    ap.add_argument(
        "--servers", type=int, default=1, help="uvicorn processes (scaleout only: Redis layer)"
    )
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--ws", default="websockets", help="uvicorn --ws implementation")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    data = temp_dir("chorus-vote-storm-")
    env = bench_env(args.mode, data)
    env["INGEST_IN_PROCESS"] = "false"  # no chat needed: measure the vote path alone
    # Per-socket flood limits stay as configured; one vote per socket is far below them.
    if args.mode == "scaleout":
        if args.database_url is None and args.redis_url is None:
            reset_scaleout_services()
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
    if args.servers > 1 and args.mode != "scaleout":
        ap.error("--servers > 1 needs --mode scaleout (the in-memory layer is per process)")
    info = setup_django(env)
    ports, servers = [], []
    try:
        for i in range(args.servers):
            ports.append(free_port(set(ports)))
            servers.append(start_server(env, ports[-1], data, name=f"server{i}", ws=args.ws))
        try:  # the clients are Python too: give them the fast event loop the server uses
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
        cpu0 = sum(os.times()[:2])
        result = asyncio.run(run(args, info, ports))
        result["client_cpu_s"] = sum(os.times()[:2]) - cpu0
        result["server_peak_rss_mb"] = max(s.peak_rss_mb() or 0 for s in servers)
        result["server_cpu_s"] = sum(s.cpu_seconds() or 0 for s in servers)
    finally:
        for s in servers:
            s.stop()
    ok = result["stored"] == args.n and result["stored_distinct_participants"] == args.n
    load = os.getloadavg()[0]
    print(
        f"vote storm ({args.mode}, {args.servers} server process(es)), N={args.n}, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"  connect + join:             {result['connect_join_s']:.2f} s")
    print(f"  send span (client):         {result['send_span_s'] * 1000:.0f} ms")
    print(f"  votes/s (send -> all acks): {result['votes_per_s']:.0f}")
    print(
        "  ack latency p50/p95/p99/max: "
        f"{result['ack_p50_ms']:.0f} / {result['ack_p95_ms']:.0f} / "
        f"{result['ack_p99_ms']:.0f} / {result['ack_max_ms']:.0f} ms"
    )
    lv = result["last_vote_to_host_final_s"]
    print(f"  last vote -> final count on host: {'never' if lv is None else f'{lv * 1000:.0f} ms'}")
    print(f"  host results frames (whole run): {result['host_results_frames']}")
    print(f"  outcomes: {result['outcomes']}  host counts: {result['host_final_counts']}")
    print(
        f"  stored votes: {result['stored']} ({result['stored_distinct_participants']} participants)"
        f" -> {'OK' if ok else 'MISMATCH'}"
    )
    print(
        f"  server peak RSS {result['server_peak_rss_mb']:.0f} MB (largest process), "
        f"CPU {result['server_cpu_s']:.1f} s (all server processes); "
        f"bench clients CPU {result['client_cpu_s']:.1f} s"
    )
    if args.json:
        print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
