"""The replay adapter (recorded chat as JSONL) that feeds demos, load tests and browser tests."""

import asyncio
import json

import pytest
from django.test import override_settings

from ingest.adapters.base import FatalAdapterError, NullStatus, SourceConfig
from ingest.adapters.replay import ReplayAdapter


def line(n, text="hi", **kw):
    return json.dumps(
        {
            "kind": "message",
            "platform": "twitch",
            "id": f"r{n}",
            "author": {"id": "u1", "login": "alice", "display_name": "Alice"},
            "text": text,
            **kw,
        }
    )


def adapter(tmp_path, settings_=None, cursor=""):
    got = []

    async def emit(ev):
        got.append(ev)

    src = SourceConfig(id=7, platform="replay", identifier="x", settings=settings_ or {})
    return ReplayAdapter(src, emit, cursor=cursor, status=NullStatus()), got


@pytest.fixture
def replay_dir(tmp_path):
    with override_settings(CHORUS_REPLAY_DIR=tmp_path):
        yield tmp_path


async def test_plays_a_file_skips_bad_lines_and_resumes_by_line(replay_dir):
    (replay_dir / "show.jsonl").write_text(
        "\n".join([line(1), "{not json", line(2, text="<b>x</b>"), '{"kind": "message"}', line(3)])
        + "\n"
    )
    a, got = adapter(replay_dir, {"path": "show.jsonl"})
    await asyncio.wait_for(a.run(), 5)
    assert [(e.id, e.cursor, e.source_id) for e in got] == [
        ("r1", "1", 7),
        ("r2", "3", 7),
        ("r3", "5", 7),
    ]
    assert got[1].text == "<b>x</b>"
    assert a.status.detail == "finished show.jsonl: 3 events, 2 invalid lines skipped"
    # A restart from the stored cursor continues after line 3: r1 and r2 are not replayed.
    b, again = adapter(replay_dir, {"path": "show.jsonl"}, cursor="3")
    await asyncio.wait_for(b.run(), 5)
    assert [e.id for e in again] == ["r3"]


async def test_follow_picks_up_appended_lines(replay_dir):
    path = replay_dir / "live.jsonl"
    path.write_text(line(1) + "\n" + line(2)[:10])  # second line still being written
    a, got = adapter(replay_dir, {"path": "live.jsonl", "follow": True, "poll_seconds": 0.05})
    task = asyncio.create_task(a.run())
    for _ in range(100):
        await asyncio.sleep(0.02)
        if got:
            break
    assert [e.id for e in got] == ["r1"]
    with path.open("w") as fh:
        fh.write(line(1) + "\n" + line(2) + "\n")
    for _ in range(100):
        await asyncio.sleep(0.02)
        if len(got) == 2:
            break
    task.cancel()
    assert [e.id for e in got] == ["r1", "r2"]


async def test_refuses_files_outside_the_replay_dir(replay_dir):
    a, _ = adapter(replay_dir, {"path": "../../etc/passwd"})
    with pytest.raises(FatalAdapterError, match="CHORUS_REPLAY_DIR"):
        await a.run()
    a, _ = adapter(replay_dir, {"path": "missing.jsonl"})
    with pytest.raises(FatalAdapterError, match="does not exist"):
        await a.run()
