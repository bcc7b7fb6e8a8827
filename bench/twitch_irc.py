#!/usr/bin/env python
"""Twitch IRC benchmark: the fake IRC server (its own process) pushes a burst through the REAL
Twitch adapter (our IRC client + parser + mapping) and the REAL pipeline (store + publish).

    .venv/bin/python bench/twitch_irc.py [--lines 5000 --seconds 5 --per-frame 5]
    .venv/bin/python bench/twitch_irc.py --database-url postgres://postgres@127.0.0.1:5432/chorus_twitch

With --database-url the database (chorus_twitch* / chorus_bench* only) is dropped and re-created.

Default database: a fresh SQLite file (WAL) in a temp dir; in-memory channel layer. Every line
carries tmi-sent-ts = the moment the fake sent its frame, so end-to-end latency = the moment the
pipeline has stored (and published) the message - that time (ms resolution).

Prints: lines/s received+parsed by the adapter, lines/s stored, latency p50/p95/p99/max, lost or
duplicated messages, and the parser's own capacity (parse + map, no I/O, one core).
Exits 1 when a message was lost or stored twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, bench_env, percentile, prepare_django, temp_dir  # noqa: E402


async def run(args) -> int:
    from asgiref.sync import sync_to_async

    from ingest.adapters.base import NullStatus, SourceConfig
    from ingest.adapters.twitch import TwitchAdapter
    from ingest.models import ChatMessage, ChatSource
    from ingest.pipeline import Pipeline
    from ingest.twitch.irc import parse_line
    from ingest.twitch.mapping import irc_to_events
    from tests.fakes.twitch_irc import burst_line

    # 1) the parser alone (capacity, no I/O)
    lines = [burst_line(n, int(time.time() * 1000)) for n in range(args.lines)]
    t0 = time.perf_counter()
    for ln in lines:
        irc_to_events(parse_line(ln))
    parse_rate = len(lines) / (time.perf_counter() - t0)

    # 2) end to end
    fake = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "tests.fakes.twitch_irc",
            "--burst",
            str(args.lines),
            "--seconds",
            str(args.seconds),
            "--per-frame",
            str(args.per_frame),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, LOG_LEVEL="WARNING"),
    )
    try:
        url = fake.stdout.readline().strip()
        assert url.startswith("ws://"), url
        from django.conf import settings

        settings.TWITCH_IRC_URL = url
        await sync_to_async(
            ChatSource.objects.filter(platform="twitch", identifier="streamer").delete
        )()
        src = await sync_to_async(ChatSource.objects.create)(
            platform="twitch", identifier="streamer", settings={"stream_poll_seconds": 0}
        )
        latencies: list[float] = []
        seen: dict[str, int] = {}
        recv = {"first": None, "last": None, "n": 0}
        stored_t = {"first": None, "last": None}

        async def listener(batch):
            now = time.time()
            for m in batch.message_objects:
                latencies.append(now - m.sent_at.timestamp())
                seen[m.platform_message_id] = seen.get(m.platform_message_id, 0) + 1
            if batch.message_objects:
                stored_t["first"] = stored_t["first"] or now
                stored_t["last"] = now

        pipeline = Pipeline(listeners=[listener])
        batch_times: list[tuple[int, float]] = []
        original_process = pipeline.process

        async def timed_process(batch):
            t = time.perf_counter()
            try:
                return await original_process(batch)
            finally:
                batch_times.append((len(batch), time.perf_counter() - t))

        pipeline.process = timed_process
        pipeline.start()

        async def submit(ev):
            now = time.time()
            recv["first"] = recv["first"] or now
            recv["last"] = now
            recv["n"] += 1
            await pipeline.submit(ev)

        adapter = TwitchAdapter(SourceConfig.from_model(src), submit, status=NullStatus())
        task = asyncio.create_task(adapter.run())
        deadline = time.monotonic() + args.seconds + 60
        while len(seen) < args.lines and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # catch duplicates arriving late
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await pipeline.stop()
        stored = await sync_to_async(ChatMessage.objects.filter(source=src).count)()
    finally:
        fake.kill()
        fake.wait(5)

    lost = args.lines - len(seen)
    dups = sum(n - 1 for n in seen.values() if n > 1)
    lat = sorted(latencies)
    recv_span = (recv["last"] - recv["first"]) if recv["first"] else float("nan")
    store_span = (stored_t["last"] - recv["first"]) if stored_t["first"] else float("nan")
    db = (
        "PostgreSQL"
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else "SQLite (WAL)"
    )
    print(
        f"Twitch IRC bench: {args.lines} lines in {args.seconds:g} s, {args.per_frame} lines/frame, {db}"
    )
    print(f"  parser capacity (parse+map, 1 core): {parse_rate:,.0f} lines/s")
    print(
        f"  received+parsed by the adapter:      {recv['n'] / recv_span:,.0f} lines/s ({recv['n']} lines over {recv_span:.2f} s)"
    )
    print(
        f"  stored by the pipeline:              {len(seen) / store_span:,.0f} lines/s ({stored} rows, first line -> last stored {store_span:.2f} s)"
    )
    print(
        f"  end-to-end latency (sent -> stored+published): p50 {percentile(lat, 50) * 1000:.0f} ms, "
        f"p95 {percentile(lat, 95) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
    )
    if batch_times:
        sizes = [n for n, _ in batch_times]
        secs = sorted(d for _, d in batch_times)
        print(f"  pipeline: {len(batch_times)} batches, mean {sum(sizes) / len(sizes):.0f} events, "
              f"store+publish p50 {percentile(secs, 50) * 1000:.0f} ms, max {secs[-1] * 1000:.0f} ms")
    print(f"  lost {lost}, duplicates {dups}, malformed/skipped {adapter.skipped_lines}")
    return 1 if (lost or dups or stored != args.lines) else 0


def fresh_database(url: str) -> None:
    """Drop and re-create the bench's PostgreSQL database (a fresh key encrypts its secrets)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    if not name.startswith(("chorus_twitch", "chorus_bench")):
        raise SystemExit(f"refusing to recreate database {name!r} (chorus_twitch*/chorus_bench* only)")
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--per-frame", type=int, default=5)
    ap.add_argument("--database-url", default="", help="PostgreSQL URL (default: fresh SQLite)")
    args = ap.parse_args()
    extra = {"DATABASE_URL": args.database_url} if args.database_url else {}
    if args.database_url:
        fresh_database(args.database_url)
    env = bench_env("embedded", temp_dir("chorus-twitch-bench-"), **extra)
    env["INGEST_IN_PROCESS"] = "false"
    prepare_django(env)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
