"""The Twitch adapter's IRC path: our IRC client against the local fake IRC server, through the
real pipeline into the database. Includes the replay of a recorded-looking session."""

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from ingest.adapters.base import NullStatus, SourceConfig
from ingest.adapters.twitch import TwitchAdapter
from ingest.models import ChatMessage, ChatSource, ModerationEvent, PlatformState
from ingest.pipeline import Pipeline
from tests.fakes.twitch_irc import FakeIrcServer

pytestmark = pytest.mark.django_db(transaction=True)
SESSION = Path(__file__).parent / "fixtures" / "twitch" / "session.irc"


def privmsg(n, text=None, login="viewer", uid="2002", ts=None, name=None):
    ts = ts or 1700000000000 + n * 1000
    return (
        f"@badge-info=;badges=;color=;display-name={name or login.title()};emotes=;id=msg-{n};"
        f"mod=0;room-id=3003;subscriber=0;tmi-sent-ts={ts};user-id={uid};user-type= "
        f":{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #streamer :{text or f'message {n}'}"
    )


async def wait_for(predicate, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def count(**kw):
    return sync_to_async(lambda: ChatMessage.objects.filter(**kw).count())()


async def wait_count(n, timeout=8.0, **kw):
    async def ok():
        return await count(**kw) == n

    await wait_for(ok, timeout)


class Running:
    """The real adapter + the real pipeline, against the fake, for one test."""

    def __init__(self, src: ChatSource):
        self.pipeline = Pipeline(listeners=[], flush_ms=20)
        self.status = NullStatus()
        self.adapter = TwitchAdapter(
            SourceConfig.from_model(src), self.pipeline.submit, status=self.status
        )

    async def __aenter__(self):
        self.pipeline.start()
        self.task = asyncio.create_task(self.adapter.run())
        return self

    async def __aexit__(self, *exc):
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        with contextlib.suppress(Exception):
            await self.pipeline.stop()


@pytest.fixture
async def irc(settings):
    async with FakeIrcServer() as server:
        settings.TWITCH_IRC_URL = server.url
        yield server


def make_source(**settings_):
    opts = {"stream_poll_seconds": 0, "reconnect_initial": 0.05, "reconnect_max": 0.4}
    opts.update(settings_)
    return sync_to_async(ChatSource.objects.create)(
        platform="twitch", identifier="Streamer", settings=opts
    )


async def test_anonymous_login_join_and_multi_line_frames(irc):
    src = await make_source()
    async with Running(src) as run:
        await irc.wait_joined("streamer")
        conn = irc.connections[0]
        assert conn.nick.startswith("justinfan") and conn.pass_ == "SCHMOOPIIE"
        assert "twitch.tv/tags" in conn.caps and "twitch.tv/commands" in conn.caps
        await wait_for(lambda: run.status.state == "connected")
        # 9 lines in 3 frames; one frame also carries a PING that must be answered.
        lines = [privmsg(i) for i in range(9)]
        await irc.push(lines[:3] + ["PING :tmi.twitch.tv"] + lines[3:], per_frame=4)
        await wait_count(9, source_id=src.pk)
        await wait_for(lambda: any(r.startswith("PONG") for r in conn.received))
    texts = await sync_to_async(lambda: list(ChatMessage.objects.order_by("sent_at").values_list("text", flat=True)))()
    assert texts == [f"message {i}" for i in range(9)]


async def test_malformed_lines_are_logged_and_skipped(irc, caplog):
    src = await make_source()
    async with Running(src) as run:
        await irc.wait_joined("streamer")
        await irc.push(
            [privmsg(1), "@a=b", "4garbage!! :x", privmsg(2).replace("id=msg-2;", ""), privmsg(3)],
            per_frame=5,
        )
        await wait_count(2)
        assert run.adapter.skipped_lines == 3
        assert not run.task.done()
    assert "4garbage!! :x" in caplog.text  # the raw text is in the log


async def test_reconnect_command_rejoins_without_duplicates(irc):
    src = await make_source()
    async with Running(src):
        await irc.wait_joined("streamer")
        await irc.push([privmsg(1), privmsg(2)], per_frame=2)
        await wait_count(2)
        await irc.reconnect_all()
        await irc.wait_joined("streamer", count=2)
        # The server re-delivers what was recent, plus new lines: stored once each.
        await irc.push([privmsg(2), privmsg(3)], per_frame=2)
        await wait_count(3)
    assert len(irc.connections) == 2
    assert await count(platform_message_id="msg-2") == 1


async def test_dropped_socket_reconnects(irc):
    src = await make_source()
    async with Running(src):
        await irc.wait_joined("streamer")
        await irc.drop_all()
        await irc.wait_joined("streamer", count=2)
        await irc.push([privmsg(5)])
        await wait_count(1)


async def test_missing_keepalive_pings_then_reconnects(irc):
    src = await make_source(idle_timeout=0.3, pong_timeout=0.3)
    async with Running(src):
        await irc.wait_joined("streamer")
        # An idle but healthy server answers our PING: no reconnect.
        await asyncio.sleep(0.8)
        assert irc.pings_from_clients >= 1
        assert len(irc.connections) == 1
        irc.answer_ping = False  # now it goes silent: we must reconnect
        await irc.wait_joined("streamer", count=2, timeout=5)
        irc.answer_ping = True
        await irc.push([privmsg(7)])
        await wait_count(1)


async def test_reconnect_storm_backs_off(irc):
    irc.reconnect_on_join = True
    src = await make_source(reconnect_initial=0.1, reconnect_max=1.6)
    async with Running(src) as run:
        await asyncio.sleep(2.5)
        attempts = len(irc.connect_times)
        assert "reconnecting" in run.status.detail
    # Without backoff it would be hundreds of connections in 2.5 s.
    assert 3 <= attempts <= 9, attempts
    gaps = [b - a for a, b in zip(irc.connect_times, irc.connect_times[1:], strict=False)]
    assert gaps[-1] > gaps[0] + 0.1, gaps


async def test_only_our_channel_is_read(irc):
    src = await make_source()
    async with Running(src):
        await irc.wait_joined("streamer")
        await irc.push([privmsg(1).replace("#streamer", "#other"), privmsg(2)], per_frame=2)
        await wait_count(1)
    assert await count(platform_message_id="msg-2") == 1


# --- the recorded session -----------------------------------------------------------------
TAG = re.compile(r"(?:^@|;)([^=;]+)=([^;]*)")


def tags_of(line):
    head = line.split(" ", 1)[0] if line.startswith("@") else ""
    raw = dict(TAG.findall(head))
    return {k: v.replace("\\s", " ").replace("\\:", ";").replace("\\\\", "\\") for k, v in raw.items()}


def ms(value):
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


async def test_recorded_session_is_stored_message_by_message(irc):
    lines = [ln.rstrip("\r\n") for ln in SESSION.read_text(encoding="utf-8").splitlines() if ln]
    assert len(lines) > 250
    src = await make_source()
    async with Running(src) as run:
        await irc.wait_joined("streamer")
        await irc.push_random_frames(lines, max_per_frame=6)
        expected_msgs = sum(
            1 for ln in lines if (" PRIVMSG " in ln or " USERNOTICE " in ln) and ";id=" in ln
        )
        await wait_count(expected_msgs, timeout=15)
        n_mod = sum(1 for ln in lines if " CLEARMSG " in ln or " CLEARCHAT " in ln)
        await wait_for(sync_to_async(lambda: ModerationEvent.objects.count() == n_mod), 10)
        assert run.adapter.skipped_lines == 4  # the four malformed lines of the recording
        assert not run.task.done()

    def check():
        msgs = {
            m.platform_message_id: m
            for m in ChatMessage.objects.select_related("author", "removal_event")
        }
        checked = {"privmsg": 0, "deletion": 0, "timeout": 0, "ban": 0, "clear": 0, "notice": 0}
        for ln in lines:
            t = tags_of(ln)
            if " PRIVMSG #streamer :" in ln and "id" in t:
                m = msgs[t["id"]]
                text = ln.split(" PRIVMSG #streamer :", 1)[1]
                if text.startswith("\x01ACTION "):
                    text = text[8:-1]
                assert m.text == text, ln
                login = re.match(r"^@\S+ :([^!]+)!", ln).group(1)
                assert m.author.login == login
                assert m.author.display_name == t["display-name"]
                assert m.author.platform_user_id == t["user-id"]
                assert m.sent_at == ms(t["tmi-sent-ts"])
                if t.get("bits"):
                    assert (m.kind, m.amount, m.currency) == ("paid", Decimal(t["bits"]), "bits")
                else:
                    assert m.kind == "message"
                if t.get("first-msg") == "1":
                    assert m.extra["first_message"] is True
                if t.get("reply-parent-msg-id"):
                    assert m.reply_to == t["reply-parent-msg-id"]
                    assert m.extra["reply_parent_text"] == t["reply-parent-msg-body"]
                checked["privmsg"] += 1
            elif " USERNOTICE " in ln:
                m = msgs[t["id"]]
                kind = {"sub": "membership", "resub": "membership", "subgift": "gift",
                        "submysterygift": "gift", "raid": "raid", "announcement": "announcement"}
                assert m.kind == kind.get(t["msg-id"], "message"), ln
                assert m.author.login == t["login"]
                user_text = ln.split(" USERNOTICE #streamer :", 1)[1] if " USERNOTICE #streamer :" in ln else ""
                if t["msg-id"] in ("resub", "announcement", "ritual"):
                    assert m.text == user_text
                checked["notice"] += 1
            elif " CLEARMSG " in ln:
                target = msgs[t["target-msg-id"]]
                ev = ModerationEvent.objects.get(platform_event_id=f"clearmsg:{t['target-msg-id']}")
                deleted_text = ln.split(" CLEARMSG #streamer :", 1)[1]
                assert ev.kind == "deletion" and ev.target_text == deleted_text
                assert target.platform_state == PlatformState.DELETED
                assert target.removal_event_id == ev.pk
                checked["deletion"] += 1
            elif " CLEARCHAT " in ln:
                ev = ModerationEvent.objects.get(occurred_at=ms(t["tmi-sent-ts"]))
                if "ban-duration" in t:
                    assert ev.kind == "timeout"
                    assert ev.duration_seconds == int(t["ban-duration"])
                    assert ev.ends_at == ms(t["tmi-sent-ts"]) + timedelta(seconds=int(t["ban-duration"]))
                    assert ev.target_author.login == "troll_account"
                    checked["timeout"] += 1
                elif "target-user-id" in t:
                    assert ev.kind == "ban" and ev.ends_at is None
                    assert ev.target_author.platform_user_id == t["target-user-id"]
                    checked["ban"] += 1
                else:
                    assert ev.kind == "clear" and ev.target_author is None
                    checked["clear"] += 1
        return checked

    checked = await sync_to_async(check)()
    assert checked["privmsg"] > 200 and checked["deletion"] >= 5
    assert checked["timeout"] == 2 and checked["ban"] == 1 and checked["clear"] == 1
    assert checked["notice"] == 7

    def troll_state():
        # Every troll message sent before the permanent ban is marked (timed out or banned).
        ban = ModerationEvent.objects.get(kind="ban")
        before = ChatMessage.objects.filter(author__login="troll_account", sent_at__lte=ban.occurred_at)
        assert before.exists()
        return set(before.values_list("platform_state", flat=True))

    assert (await sync_to_async(troll_state)()) <= {"timed_out", "banned", "cleared", "deleted"}


async def test_suspended_channel_is_a_fatal_error(irc):
    from ingest.adapters.base import FatalAdapterError

    irc.on_join_lines = [
        "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #streamer :This channel has been suspended."
    ]
    src = await make_source()
    adapter = TwitchAdapter(SourceConfig.from_model(src), Pipeline(listeners=[]).submit)
    with pytest.raises(FatalAdapterError, match="suspended"):
        await asyncio.wait_for(adapter.run(), 5)
    assert len(irc.connections) == 1  # no reconnect loop
