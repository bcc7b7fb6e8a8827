"""The bot engine against stored chat: commands, built-ins, revolutions, timers (fake clock)."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from bots.engine import BotEngine, panel_group
from bots.models import BotConfig, ChatCommand, Revolution, TimerMessage
from ingest.store import store_batch
from polls.models import Meeting, Participant
from tests.factories import author, msg, source

pytestmark = pytest.mark.django_db(transaction=True)
MARK = "🤖 "


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def setup(settings):
    settings.BOT_MESSAGE_MARKER = MARK
    src = source()
    meeting = Meeting.objects.create(title="Show")
    meeting.sources.add(src)
    BotConfig.objects.create(meeting=meeting)
    return src, meeting


def make_engine():
    sent = []

    async def sender(source_id, text):
        sent.append((source_id, text))

    clock = Clock()
    return BotEngine(clock=clock, sender=sender), sent, clock


async def feed(engine, events):
    stored = await sync_to_async(store_batch)(events)
    await engine.on_batch(stored)


async def test_commands_reply_with_aliases_cooldowns_and_roles(setup):
    src, meeting = setup
    await sync_to_async(ChatCommand.objects.create)(
        meeting=meeting,
        name="discord",
        aliases="dc, chat",
        reply="{user}: join us at example.org/{args}",
        global_cooldown=5,
        user_cooldown=60,
    )
    await sync_to_async(ChatCommand.objects.create)(
        meeting=meeting, name="modonly", reply="secret", audience="moderators"
    )
    engine, sent, clock = make_engine()
    alice, bob = author("a", "alice", "Alice"), author("b", "bob", "Bob")
    await feed(engine, [msg(src, 1, "!DC now", who=alice)])
    assert sent == [(src.pk, MARK + "Alice: join us at example.org/now")]
    await feed(engine, [msg(src, 2, "!discord", who=bob)])  # global cooldown
    clock.t += 6
    await feed(
        engine, [msg(src, 3, "!chat", who=alice), msg(src, 4, "!chat", who=bob)]
    )  # alice: user cooldown
    assert [t for _, t in sent][1:] == [MARK + "Bob: join us at example.org/"]
    await feed(engine, [msg(src, 5, "!modonly", who=alice)])
    assert len(sent) == 2
    await feed(
        engine, [msg(src, 6, "!modonly", who=author("m", "mod", "Mod", roles=["moderator"]))]
    )
    assert sent[-1][1] == MARK + "secret"


async def test_bot_messages_never_trigger_bots(setup):
    src, meeting = setup
    await sync_to_async(ChatCommand.objects.create)(meeting=meeting, name="echo", reply="!echo")
    engine, sent, clock = make_engine()
    await feed(engine, [msg(src, 1, MARK + "!echo", who=author("bot", "chorus"))])
    assert sent == []


async def test_builtin_score_top_and_join(setup):
    src, meeting = setup
    await sync_to_async(Participant.objects.create)(
        meeting=meeting, nickname="Zoë", platform="demo", platform_user_id="z", score=7
    )
    await sync_to_async(Participant.objects.create)(
        meeting=meeting, nickname="Kwame", platform="demo", platform_user_id="k", score=3
    )
    engine, sent, clock = make_engine()
    await feed(engine, [msg(src, 1, "!score", who=author("k", "kwame", "Kwame"))])
    await feed(engine, [msg(src, 2, "!top", who=author("z", "zoe", "Zoë"))])
    await feed(engine, [msg(src, 3, "!join", who=author("n", "newbie", "Newbie"))])
    texts = [t for _, t in sent]
    assert texts[0] == MARK + "@Kwame you have 3 points (rank 2)."
    assert texts[1] == MARK + "Top: 1. Zoë (7), 2. Kwame (3)"
    assert meeting.join_code in texts[2]


async def test_revolution_fires_once_with_enough_distinct_viewers(setup):
    src, meeting = setup
    await sync_to_async(Revolution.objects.create)(
        meeting=meeting,
        command="revolution",
        threshold=3,
        window_seconds=30,
        cooldown_seconds=300,
        message="Viva!",
    )
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(panel_group(meeting.pk), channel)
    engine, sent, clock = make_engine()
    await feed(
        engine,
        [msg(src, 1, "!revolution", who=author("a")), msg(src, 2, "!revolution", who=author("a"))],
    )
    frame = await layer.receive(channel)
    assert '"count":1' in frame["frame"]  # the same viewer twice counts once
    await feed(
        engine,
        [msg(src, 3, "!revolution", who=author("b")), msg(src, 4, "!revolution", who=author("c"))],
    )
    frames = [await layer.receive(channel), await layer.receive(channel)]
    assert any('"type":"alert"' in f["frame"] and "Viva!" in f["frame"] for f in frames)
    assert sent == [(src.pk, MARK + "Viva!")]
    await feed(engine, [msg(src, 5 + i, "!revolution", who=author(f"x{i}")) for i in range(5)])
    assert len(sent) == 1  # cooldown


async def test_timers_need_interval_and_chat_lines_and_rotate(setup):
    src, meeting = setup
    await sync_to_async(TimerMessage.objects.create)(
        meeting=meeting, text="Join at {join_url}", interval_seconds=60, min_lines=2, order=1
    )
    await sync_to_async(TimerMessage.objects.create)(
        meeting=meeting, text="Follow us!", interval_seconds=60, min_lines=2, order=2
    )
    engine, sent, clock = make_engine()
    await engine.reload(force=True)
    clock.t += 61
    await engine.tick()
    assert sent == []  # silent chat is not spammed
    await feed(engine, [msg(src, 1, "hi"), msg(src, 2, "hello")])
    await engine.tick()
    assert len(sent) == 1 and f"code={meeting.join_code}" in sent[0][1]
    clock.t += 61
    await feed(engine, [msg(src, 3, "a"), msg(src, 4, "b")])
    await engine.tick()
    assert sent[-1][1] == MARK + "Follow us!"


async def test_no_timers_no_crash(setup):
    engine, sent, clock = make_engine()
    await engine.tick()
    assert sent == []


async def test_revolution_alert_video_url_is_served_publicly_with_ranges(setup, settings, tmp_path):
    """The alert frame's video_url plays in OBS: no login, the right type and bytes, Range (seek);
    an unknown revolution or a wrong key is a 404 (the URL is the credential)."""
    import json

    from django.core.files.base import ContentFile
    from django.test import Client

    from bots.engine import alerts_group

    settings.MEDIA_ROOT = str(tmp_path / "media")
    video = (
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
        + bytes(range(256)) * 40
    )
    src, meeting = setup

    def make():
        r = Revolution(meeting=meeting, command="revolution", threshold=1, message="Go!")
        r.alert_video.save("party.mp4", ContentFile(video), save=False)  # the name lies: WebM
        r.save()
        return r

    rev = await sync_to_async(make)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(alerts_group(meeting.pk), channel)
    engine, sent, clock = make_engine()
    await feed(engine, [msg(src, 1, "!revolution", who=author("a"))])
    frame = json.loads((await layer.receive(channel))["frame"])
    assert frame["type"] == "alert" and frame["revolution_id"] == rev.pk
    url = frame["video_url"]
    assert url.startswith(f"/bots/alerts/{rev.pk}/") and "party" not in url

    def fetch():
        c = Client()  # anonymous, like OBS
        whole = c.get(url)
        part = c.get(url, HTTP_RANGE="bytes=10-19")
        tail = c.get(url, HTTP_RANGE="bytes=-5")
        wrong_id = c.get(url.replace(f"/alerts/{rev.pk}/", f"/alerts/{rev.pk + 99}/"))
        key = url.split("/")[-2]
        wrong_key = c.get(url.replace(key, ("0" if key[0] != "0" else "1") + key[1:]))
        return whole, part, tail, wrong_id, wrong_key

    whole, part, tail, wrong_id, wrong_key = await sync_to_async(fetch)()
    assert whole.status_code == 200 and whole["Content-Type"] == "video/webm"
    assert b"".join(whole.streaming_content) == video
    assert whole["Accept-Ranges"] == "bytes" and whole["X-Content-Type-Options"] == "nosniff"
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(video)}"
    assert b"".join(part.streaming_content) == video[10:20]
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == video[-5:]
    assert wrong_id.status_code == 404 and wrong_key.status_code == 404
