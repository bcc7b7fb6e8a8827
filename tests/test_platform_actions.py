"""Moderating a platform's chat from Chorus (ingest.platform_actions) against the local fakes:
Twitch Helix and the YouTube Data API through their real clients, the demo source's local loop,
and the clear errors when a token may not (missing scope, not a moderator, read-only)."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from ingest.models import ChatMessage, ChatSource, MessageAction, ModerationEvent, PlatformAccount
from ingest.platform_actions import capabilities, moderate, post
from ingest.services import ServiceError
from ingest.store import store_batch
from ingest.twitch import oauth
from tests.factories import author, msg, source
from tests.fakes import youtube_api as f
from tests.fakes.twitch_api import CLIENT_ID, CLIENT_SECRET, FakeTwitch
from tests.youtube_support import CHAT, VIDEO, make_account, make_source

pytestmark = pytest.mark.django_db(transaction=True)

BANS = "moderator:manage:banned_users"


@sync_to_async
def stored_message(src, n=1, who=None, **kw) -> ChatMessage:
    store_batch([msg(src, n, who=who or author("2002", "viewer", "Viewer"), **kw)])
    return ChatMessage.objects.get(source=src, platform_message_id=kw.get("id", f"m{n}"))


@pytest.fixture
def mod(db):
    return User.objects.create_user("marta", password="x" * 20)


# --- Twitch -------------------------------------------------------------------------------------
@pytest.fixture
async def twitch(settings):
    async with FakeTwitch() as fake:
        settings.TWITCH_API_URL = fake.helix_url
        settings.TWITCH_AUTH_URL = fake.base
        settings.TWITCH_CLIENT_ID = CLIENT_ID
        settings.TWITCH_CLIENT_SECRET = CLIENT_SECRET
        fake.add_user("3003", "streamer", "Streamer")
        fake.add_user("2001", "mod_marta", "Mod_Marta")
        fake.add_user("2002", "viewer", "Viewer")
        fake.moderators["3003"] = {"2001"}
        yield fake


async def twitch_source(fake, user_id, scopes=oauth.DEFAULT_SCOPES, local_scopes=None,
                        channel="streamer"):
    tokens = fake.issue_tokens(user_id, scopes)
    u = fake.users[user_id]

    def create():
        acc = PlatformAccount.objects.create(
            platform="twitch", account_id=user_id, login=u["login"],
            scopes=list(scopes if local_scopes is None else local_scopes),
            credentials={"access_token": tokens["access_token"],
                         "refresh_token": tokens["refresh_token"]})
        return ChatSource.objects.create(platform="twitch", identifier=channel, account=acc)

    return await sync_to_async(create)()


async def test_twitch_delete_timeout_and_ban_reach_helix_and_are_recorded(twitch, mod):
    src = await twitch_source(twitch, "2001")
    m = await stored_message(src, id="tw-msg-1")
    out = await moderate(mod, m.pk, "delete")
    assert twitch.deleted == [{"broadcaster_id": "3003", "moderator_id": "2001", "message_id": "tw-msg-1"}]
    assert out["platform"] == "twitch" and out["action"] == "delete"
    out = await moderate(mod, m.pk, "timeout", reason="spam")  # default 600 s
    assert twitch.bans[-1]["user_id"] == "2002" and twitch.bans[-1]["duration"] == 600
    assert twitch.bans[-1]["reason"] == "spam" and out["result"]["end_time"]
    await moderate(mod, m.pk, "ban", reason="repeated spam")
    assert twitch.bans[-1]["duration"] is None and twitch.bans[-1]["reason"] == "repeated spam"
    actions = await sync_to_async(
        lambda: [(a.user.username, a.via, a.changes["platform_action"]) for a in
                 MessageAction.objects.select_related("user").order_by("pk")])()
    assert [(u, v, c["action"], c.get("seconds")) for u, v, c in actions] == [
        ("marta", "dashboard", "delete", None),
        ("marta", "dashboard", "timeout", 600),
        ("marta", "dashboard", "ban", None),
    ]


async def test_twitch_token_without_the_scope_gets_a_clear_message_before_calling(twitch, mod):
    scopes = [s for s in oauth.DEFAULT_SCOPES if s != BANS]
    src = await twitch_source(twitch, "2001", scopes=scopes)
    m = await stored_message(src)
    with pytest.raises(ServiceError) as err:
        await moderate(mod, m.pk, "ban")
    assert err.value.code == "not_allowed"
    assert err.value.message == (
        "the Twitch token of mod_marta lacks moderator:manage:banned_users"
        " — reconnect Twitch with moderation scopes"
    )
    assert twitch.count("POST", "moderation/bans") == 0 and twitch.bans == []
    assert await sync_to_async(MessageAction.objects.count)() == 0  # nothing happened


async def test_twitch_403_missing_scope_from_helix_is_explained(twitch, mod):
    # Scopes unknown locally: Chorus asks, Twitch answers 403 "Missing scope".
    scopes = [s for s in oauth.DEFAULT_SCOPES if s != "moderator:manage:chat_messages"]
    src = await twitch_source(twitch, "2001", scopes=scopes, local_scopes=[])
    m = await stored_message(src)
    with pytest.raises(ServiceError) as err:
        await moderate(mod, m.pk, "delete")
    assert err.value.code == "not_allowed"
    assert "lacks moderator:manage:chat_messages — reconnect Twitch with moderation scopes" in err.value.message
    assert twitch.count("DELETE", "moderation/chat") == 1 and twitch.deleted == []


async def test_twitch_account_that_is_not_a_moderator_is_refused_clearly(twitch, mod):
    src = await twitch_source(twitch, "2002")  # all scopes, but no moderator of #streamer
    m = await stored_message(src, who=author("2001", "mod_marta", "Mod_Marta"))
    with pytest.raises(ServiceError) as err:
        await moderate(mod, m.pk, "timeout", seconds=60)
    assert err.value.code == "not_allowed"
    assert "must be the broadcaster or a moderator" in err.value.message
    assert twitch.bans == []


async def test_twitch_source_without_account_and_bad_arguments(twitch, mod):
    src = await sync_to_async(source)("twitch", "lonely")
    m = await stored_message(src)
    with pytest.raises(ServiceError, match="no connected Twitch account") as err:
        await moderate(mod, m.pk, "delete")
    assert err.value.code == "not_allowed"
    for kwargs, text in [
        ({"action": "nuke"}, "action must be one of"),
        ({"action": "timeout", "seconds": 0}, "1 to 1209600"),
        ({"action": "ban", "seconds": 60}, "only applies to a timeout"),
    ]:
        with pytest.raises(ServiceError, match=text) as err:
            await moderate(mod, m.pk, **kwargs)
        assert err.value.code == "invalid"
    with pytest.raises(ServiceError, match="does not exist") as err:
        await moderate(mod, 999999, "delete")
    assert err.value.code == "not_found"
    assert twitch.requests == []


async def test_post_to_twitch_uses_the_send_queue(twitch, mod):
    src = await twitch_source(twitch, "2001")
    out = await post(mod, src.pk, "  hello <chat>  ")
    assert out == {"source_id": src.pk, "text": "hello <chat>"}
    assert twitch.chat_sent[-1]["message"] == "hello <chat>"
    no_write = await twitch_source(twitch, "2002", scopes=["user:read:chat"], channel="viewer")
    with pytest.raises(ServiceError, match="missing scope user:write:chat") as err:
        await post(mod, no_write.pk, "hi")
    assert err.value.code == "not_allowed"


# --- YouTube ------------------------------------------------------------------------------------
@pytest.fixture
def yt(settings):
    server = f.FakeYouTube().start()
    settings.YOUTUBE_API_URL = server.url
    settings.GOOGLE_TOKEN_URL = server.token_url
    settings.GOOGLE_CLIENT_ID = server.client_id
    settings.GOOGLE_CLIENT_SECRET = server.client_secret
    settings.YOUTUBE_API_KEY = ""
    settings.YOUTUBE_DAILY_QUOTA = 10_000_000
    settings.YOUTUBE_QUOTA_RESERVE = 0
    yield server
    server.stop()


def _yt_source(yt, scopes=(f.FORCE_SSL,), local_scopes=None):
    chat = yt.add_video(VIDEO, chat_id=CHAT)
    for mid in ("yt-m1", "yt-m2"):
        chat.add(f.text_item(mid, "spam", f._author("UCtroll", "troll")))
    account, _ = make_account(yt, scopes=scopes)
    if local_scopes is not None:
        PlatformAccount.objects.filter(pk=account.pk).update(scopes=local_scopes)
    return make_source(account=account)


async def test_youtube_delete_timeout_and_ban(yt, mod):
    src = await sync_to_async(_yt_source)(yt)
    m = await stored_message(src, id="yt-m1", who=author("UCtroll", "troll", "Troll"))
    await moderate(mod, m.pk, "delete")
    assert yt.calls("liveChatMessages.delete")[0].params["id"] == "yt-m1"
    out = await moderate(mod, m.pk, "timeout", seconds=300, reason="calm down")
    body = yt.calls("liveChatBans.insert")[0].body["snippet"]
    assert body == {"liveChatId": CHAT, "type": "temporary", "banDurationSeconds": 300,
                    "bannedUserDetails": {"channelId": "UCtroll"}}
    assert out["result"]["type"] == "temporary"
    await moderate(mod, m.pk, "ban")
    assert yt.calls("liveChatBans.insert")[1].body["snippet"]["type"] == "permanent"
    assert await sync_to_async(MessageAction.objects.count)() == 3


async def test_youtube_read_only_token_gets_a_clear_message(yt, mod):
    src = await sync_to_async(_yt_source)(yt, scopes=(f.READONLY,))
    m = await stored_message(src, who=author("UCtroll", "troll", "Troll"))
    with pytest.raises(ServiceError) as err:
        await moderate(mod, m.pk, "ban")
    assert err.value.code == "not_allowed"
    assert "read-only" in err.value.message and "youtube.force-ssl" in err.value.message
    assert yt.calls("liveChatBans.insert") == []


async def test_youtube_403_insufficient_permissions_is_explained(yt, mod):
    # Scopes unknown locally: YouTube itself answers 403 insufficientPermissions.
    src = await sync_to_async(_yt_source)(yt, scopes=(f.READONLY,), local_scopes=[])
    m = await stored_message(src, id="yt-m2", who=author("UCtroll", "troll", "Troll"))
    with pytest.raises(ServiceError) as err:
        await moderate(mod, m.pk, "delete")
    assert err.value.code == "not_allowed" and "youtube.force-ssl" in err.value.message
    assert len(yt.calls("liveChatMessages.delete")) == 1
    assert await sync_to_async(MessageAction.objects.count)() == 0


async def test_post_to_youtube_inserts_a_live_chat_message(yt, mod):
    src = await sync_to_async(_yt_source)(yt)
    await post(mod, src.pk, "welcome everyone")
    call = yt.calls("liveChatMessages.insert")[0]
    assert call.body["snippet"]["textMessageDetails"] == {"messageText": "welcome everyone"}
    ro = await sync_to_async(_yt_source_other)(yt)
    with pytest.raises(ServiceError, match="read-only") as err:
        await post(mod, ro.pk, "hi")
    assert err.value.code == "not_allowed"


def _yt_source_other(yt):
    account, _ = make_account(yt, scopes=(f.READONLY,), channel="UCother", name="Other")
    yt.add_video("otherVideo1", chat_id="chat-2")
    return make_source(identifier="otherVideo1", account=account)


# --- demo / unsupported platforms ---------------------------------------------------------------
async def test_demo_timeout_is_applied_locally_and_stored_as_a_moderation_event(mod):
    src = await sync_to_async(source)("demo", "show")
    troll = author("1012", "troll_account", "troll_account")
    first = await stored_message(src, 1, who=troll)
    second = await stored_message(src, 2, who=troll)
    other = await stored_message(src, 3, who=author("1003", "zoe_k", "Zoë K."))
    out = await moderate(mod, second.pk, "timeout", seconds=120, reason="spam")
    assert sorted(out["result"]["affected"]) == sorted([first.pk, second.pk])
    ev = await sync_to_async(ModerationEvent.objects.select_related("target_author").get)()
    assert (ev.kind, ev.moderator, ev.reason, ev.duration_seconds) == ("timeout", "marta", "spam", 120)
    assert ev.target_author.platform_user_id == "1012" and ev.ends_at is not None
    states = await sync_to_async(
        lambda: dict(ChatMessage.objects.values_list("pk", "platform_state")))()
    assert states == {first.pk: "timed_out", second.pk: "timed_out", other.pk: "visible"}
    await moderate(mod, other.pk, "delete")
    assert (await sync_to_async(ChatMessage.objects.get)(pk=other.pk)).platform_state == "deleted"


async def test_tiktok_cannot_be_moderated_or_posted_to(mod):
    src = await sync_to_async(source)("tiktok", "@someone")
    m = await stored_message(src)
    with pytest.raises(ServiceError, match="TikTok does not let Chorus ban users") as err:
        await moderate(mod, m.pk, "ban")
    assert err.value.code == "unsupported"
    with pytest.raises(ServiceError, match="read-only") as err:
        await post(mod, src.pk, "hi")
    assert err.value.code == "unsupported"
    slack = await sync_to_async(source)("slack", "C123")
    sm = await stored_message(slack, 5)
    with pytest.raises(ServiceError, match="Slack does not let Chorus delete messages"):
        await moderate(mod, sm.pk, "delete")


def test_capabilities_per_platform():
    caps = capabilities()
    assert caps["twitch"] == {"moderate": ["delete", "timeout", "ban"], "post": True}
    assert caps["youtube"] == {"moderate": ["delete", "timeout", "ban"], "post": True}
    assert caps["demo"]["moderate"] == ["delete", "timeout", "ban"]
    assert caps["tiktok"] == {"moderate": [], "post": False}
    assert caps["slack"] == {"moderate": [], "post": True}
