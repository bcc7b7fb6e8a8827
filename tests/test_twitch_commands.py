"""manage.py import_twitch_channels, twitch_stats and `ingest twitch <channel>`."""

import asyncio
import contextlib
import re
import threading
from collections import Counter
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ingest.events import ChatEvent, Kind, SessionInfo
from ingest.models import ChatMessage, ChatSource, LiveSession
from ingest.store import store_batch
from ingest.twitch.irc import IrcParseError, parse_line
from ingest.twitch.mapping import MappingError, irc_to_events
from tests.fakes.twitch_irc import FakeIrcServer
from tests.test_twitch_irc import privmsg

SESSION = Path(__file__).parent / "fixtures" / "twitch" / "session.irc"

CHANNELS = """\
channels:
  - user_login: "Shroud"
    display_name: "shroud"
    enabled: true
    notes: "FPS streamer"
  - user_login: "xqc"
    display_name: "xQc"
    enabled: false
    notes: "Variety streamer"
scheduler:
  interval_minutes: 2
  reconnect_interval: 5
  max_reconnect_attempts: 10
"""


@pytest.mark.django_db
def test_import_channels_yaml(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text(CHANNELS)
    out = StringIO()
    call_command("import_twitch_channels", str(path), stdout=out)
    assert "2 channel(s): 2 new, 0 updated" in out.getvalue()
    shroud = ChatSource.objects.get(platform="twitch", identifier="shroud")
    assert (shroud.name, shroud.enabled, shroud.description) == ("shroud", True, "FPS streamer")
    assert shroud.settings["stream_poll_seconds"] == 120
    assert ChatSource.objects.get(identifier="xqc").enabled is False
    # Re-import updates in place and keeps what the admin set.
    shroud.settings["idle_timeout"] = 100
    shroud.save()
    call_command("import_twitch_channels", str(path), stdout=StringIO())
    assert ChatSource.objects.filter(platform="twitch").count() == 2
    assert ChatSource.objects.get(identifier="shroud").settings["idle_timeout"] == 100


@pytest.mark.django_db
def test_import_rejects_bad_files_and_imports_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('channels:\n  - user_login: "ok_one"\n  - user_login: "not a login!"\n  - nope\n')
    with pytest.raises(CommandError, match="invalid user_login") as exc:
        call_command("import_twitch_channels", str(bad))
    assert "entry 3" in str(exc.value)
    assert ChatSource.objects.count() == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("channels: [unclosed")
    with pytest.raises(CommandError, match="not valid YAML"):
        call_command("import_twitch_channels", str(broken))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_twitch_channels", str(tmp_path / "missing.yaml"))
    good = tmp_path / "good.yaml"
    good.write_text(CHANNELS)
    out = StringIO()
    call_command("import_twitch_channels", str(good), "--dry-run", stdout=out)
    assert "dry run" in out.getvalue() and ChatSource.objects.count() == 0


def recorded_events(src):
    events = []
    for line in SESSION.read_text(encoding="utf-8").splitlines():
        try:
            evs = irc_to_events(parse_line(line))
        except (IrcParseError, MappingError):
            continue
        for ev in evs:
            ev.source_id = src.pk
            events.append(ev)
    return events


@pytest.mark.django_db
def test_twitch_stats_of_a_session():
    src = ChatSource.objects.create(platform="twitch", identifier="streamer")
    start = ChatEvent(kind=Kind.STREAM_START, platform="twitch", id="start", source_id=src.pk,
                      sent_at=datetime(2023, 11, 1, tzinfo=UTC),
                      session=SessionInfo(platform_session_id="st-9", title="Recorded show",
                                          category="Trivia", viewer_count=99))
    store_batch([start])
    store_batch(recorded_events(src))
    session = LiveSession.objects.get()
    # expectations straight from the recording
    text = SESSION.read_text(encoding="utf-8")
    chat_lines = [ln for ln in text.splitlines() if (" PRIVMSG " in ln or " USERNOTICE " in ln) and ";id=" in ln]
    uids = Counter(re.search(r";user-id=(\d+)", ln).group(1) for ln in chat_lines)
    assert ChatMessage.objects.filter(session=session).count() == len(chat_lines)
    out = StringIO()
    call_command("twitch_stats", str(session.pk), "--top", "3", stdout=out)
    report = out.getvalue()
    assert "Recorded show" in report and "Trivia" in report
    assert re.search(rf"Messages:\s+{len(chat_lines)}\n", report)
    assert re.search(rf"Unique chatters:\s+{len(uids)}\n", report)
    assert re.search(rf"Deletions:\s+{text.count(' CLEARMSG ')}\n", report)
    assert re.search(r"Bans:\s+1\n", report) and re.search(r"Timeouts:\s+2\n", report)
    top_uid, top_n = uids.most_common(1)[0]
    top_login = ChatMessage.objects.filter(author__platform_user_id=top_uid).first().author.login
    assert re.search(rf" 1\. .*\({top_login}\)\s+{top_n}\n|  1\. {top_login}\s+{top_n}\n", report), report
    with pytest.raises(CommandError, match="no live session"):
        call_command("twitch_stats", "99999")


@pytest.mark.django_db(transaction=True)
def test_ingest_command_runs_a_twitch_channel(settings, capsys):
    """`manage.py ingest twitch <channel>` against the fake IRC server (in its own thread)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def serve():
        async with FakeIrcServer() as irc:
            state["irc"] = irc
            ready.set()
            await irc.wait_joined("streamer", timeout=20)
            await irc.push([privmsg(i) for i in range(3)], per_frame=3)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    try:
        assert ready.wait(5)
        settings.TWITCH_IRC_URL = state["irc"].url
        call_command("ingest", "twitch", "streamer", "--max-messages", "3", "--duration", "15",
                     "--setting", "stream_poll_seconds=0", stdout=StringIO())
        printed = capsys.readouterr().out
        assert "reading #streamer (anonymous IRC)" in printed
        assert "stopped: 3 messages stored" in printed
        assert ChatMessage.objects.filter(source__identifier="streamer").count() == 3
    finally:
        for t in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(t.cancel)
        thread.join(5)
