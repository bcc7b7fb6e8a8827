"""Seed 000's commands keep working, correctly: fetch_live_chat, poll_live_streams, ingest youtube."""

import asyncio
import io

import pytest
from django.core.management import CommandError, call_command

from ingest.models import ChatMessage, ChatSource, LiveSession
from ingest.youtube.runner import run_sources
from tests.fakes import youtube_api as f
from tests.youtube_support import (  # noqa: F401 (fixtures)
    CHAT,
    VIDEO,
    close_thread_connections_fixture,
    fake_fixture,
    make_account,
    yt_fixture,
)

pytestmark = pytest.mark.django_db(transaction=True)
OTHER = "abcdefghijk"


def _run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def live(yt):
    make_account(yt)
    chat = yt.add_video(VIDEO, chat_id=CHAT, polling_ms=200)
    chat.add(*[f.text_item(f"m{i}", f"hello {i}") for i in range(3)])
    return chat


def test_fetch_live_chat_once_by_url_shows_messages_and_quota(yt, live):
    out = _run("fetch_live_chat", f"--video-id=https://www.youtube.com/watch?v={VIDEO}")
    assert len(yt.calls("liveChatMessages.list")) == 1
    assert ChatMessage.objects.count() == 3
    assert "poll 1: 3 new events" in out
    assert "3 messages stored" in out and "quota used today 6/" in out  # videos.list 1 + list 5
    assert ChatSource.objects.get().identifier == VIDEO


def test_fetch_live_chat_loop_max_iterations_paces_and_resumes(yt, live):
    _run("fetch_live_chat", f"--video-id={VIDEO}", "--loop", "--max-iterations=3")
    calls = yt.calls("liveChatMessages.list")
    assert len(calls) == 3
    assert all(b.t - a.t >= 0.2 for a, b in zip(calls, calls[1:], strict=False))
    live.add(f.text_item("m3", "later"))
    out = _run("fetch_live_chat", f"--video-id={VIDEO}")
    assert yt.calls("liveChatMessages.list")[-1].params["pageToken"] == "T00000003"
    assert "1 messages stored, 0 moderation events, 0 duplicates skipped" in out
    assert ChatMessage.objects.count() == 4


def test_fetch_live_chat_rejects_bad_input_clearly(yt):
    with pytest.raises(CommandError, match="not a YouTube video id or URL"):
        _run("fetch_live_chat", "--video-id=https://example.com/x")
    with pytest.raises(CommandError, match="at least 1"):
        _run("fetch_live_chat", f"--video-id={VIDEO}", "--loop", "--max-iterations=0")
    assert not ChatSource.objects.exists()


def test_fetch_live_chat_reports_a_stream_that_is_not_live(yt):
    make_account(yt)
    yt.add_video(VIDEO, chat_id=None)
    out = _run("fetch_live_chat", f"--video-id={VIDEO}")
    assert "not live" in out and yt.calls("liveChatMessages.list") == []


def test_poll_live_streams_one_cycle_over_enabled_or_given_streams(yt, live):
    yt.add_video(OTHER, chat_id="chat-2").add(f.text_item("o1", "other stream"))
    ChatSource.objects.create(platform="youtube", identifier=VIDEO, enabled=True)
    ChatSource.objects.create(platform="youtube", identifier=OTHER, enabled=False)
    out = _run("poll_live_streams")
    assert ChatMessage.objects.count() == 3  # only the enabled one
    assert f"polling 1 stream(s): {VIDEO}" in out
    out = _run("poll_live_streams", f"--video-id={VIDEO}", f"--video-id=https://youtu.be/{OTHER}")
    assert ChatMessage.objects.filter(platform_message_id="o1").exists()
    assert "polling 2 stream(s)" in out


def test_poll_live_streams_without_streams_says_what_to_do(yt):
    with pytest.raises(CommandError, match="no enabled YouTube streams"):
        _run("poll_live_streams")


async def test_interval_is_the_minimum_and_youtube_wins_when_longer(yt, live):
    from asgiref.sync import sync_to_async

    src = await sync_to_async(ChatSource.objects.create)(platform="youtube", identifier=VIDEO)
    lines = []
    await run_sources([src.pk], lines.append, max_polls=3, min_interval=0.5)  # > YouTube's 0.2
    calls = yt.calls("liveChatMessages.list")
    assert all(b.t - a.t >= 0.5 for a, b in zip(calls, calls[1:], strict=False))
    live.polling_ms = 700  # now YouTube asks for longer than --interval
    await run_sources([src.pk], lines.append, max_polls=3, min_interval=0.1)
    calls = yt.calls("liveChatMessages.list")[3:]
    assert all(b.t - a.t >= 0.7 for a, b in zip(calls, calls[1:], strict=False))
    assert any("quota" in line for line in lines)


async def test_refresh_metadata_rereads_title_and_viewers_each_cycle(yt, live):
    from asgiref.sync import sync_to_async

    src = await sync_to_async(ChatSource.objects.create)(platform="youtube", identifier=VIDEO)
    task = asyncio.create_task(
        run_sources([src.pk], lambda s: None, max_polls=4, metadata_refresh_seconds=0)
    )
    while len(yt.calls("liveChatMessages.list")) < 2:
        await asyncio.sleep(0.02)
    yt.videos[VIDEO]["snippet"]["title"] = "Renamed live"
    yt.videos[VIDEO]["liveStreamingDetails"]["concurrentViewers"] = "999"
    await asyncio.wait_for(task, 10)
    assert len(yt.calls("videos.list")) == 1 + 4
    session = await sync_to_async(LiveSession.objects.get)()
    assert (session.title, session.viewer_count, session.peak_viewer_count) == (
        "Renamed live",
        999,
        999,
    )


def test_ingest_command_runs_the_youtube_adapter(yt, live, capsys):
    _run("ingest", "youtube", VIDEO, "--max-messages=3", "--duration=10")
    assert ChatMessage.objects.count() == 3
    assert "3 messages stored" in capsys.readouterr().out
