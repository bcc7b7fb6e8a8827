"""Sending to Twitch chat and moderating it through Helix (fake), with Twitch's send limits."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from ingest.models import ChatSource, PlatformAccount
from ingest.senders import SendError, send_chat
from ingest.twitch import oauth
from ingest.twitch.service import TwitchActionError, TwitchChatService
from tests.fakes.twitch_api import CLIENT_ID, CLIENT_SECRET, FakeTwitch

pytestmark = pytest.mark.django_db(transaction=True)


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
        fake.add_user("5005", "chorusbot", "ChorusBot")
        yield fake


async def source_for(fake, user_id, scopes=oauth.DEFAULT_SCOPES, **settings_):
    tokens = fake.issue_tokens(user_id, scopes)
    u = fake.users[user_id]

    def create():
        acc = PlatformAccount.objects.create(
            platform="twitch", account_id=user_id, login=u["login"], scopes=list(scopes),
            credentials={"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]})
        return ChatSource.objects.create(platform="twitch", identifier="streamer", account=acc,
                                         settings=settings_)

    return await sync_to_async(create)()


def max_in_window(times, window):
    best = 0
    for i, t in enumerate(times):
        best = max(best, sum(1 for u in times[i:] if u - t < window))
    return best


async def test_send_respects_the_user_limit_with_a_queue(twitch):
    src = await source_for(twitch, "5005")  # a bot account, not a moderator: 20 per window
    service = TwitchChatService(window_seconds=0.6)
    t0 = time.monotonic()
    results = await asyncio.gather(*(service.send_message(src, f"msg {i}") for i in range(26)))
    elapsed = time.monotonic() - t0
    assert all(r["is_sent"] for r in results)
    assert [m["message"] for m in twitch.chat_sent] == [f"msg {i}" for i in range(26)]  # FIFO
    assert all(m["broadcaster_id"] == "3003" and m["sender_id"] == "5005" for m in twitch.chat_sent)
    times = [m["at"] for m in twitch.chat_sent]
    assert max_in_window(times, 0.6) <= 20
    assert elapsed >= 0.6  # the 21st waited for the window
    assert service._windows[src.account_id].waits >= 1
    await service.close()


async def test_broadcaster_gets_the_moderator_limit(twitch):
    src = await source_for(twitch, "3003")
    service = TwitchChatService(window_seconds=0.6)
    await asyncio.gather(*(service.send_message(src, f"m{i}") for i in range(40)))
    assert len(twitch.chat_sent) == 40
    assert service._windows[src.account_id].waits == 0  # 40 < 100: nobody waited
    await service.close()


async def test_send_errors_are_clear(twitch):
    service = TwitchChatService(window_seconds=0.5)
    src = await source_for(twitch, "5005", scopes=["user:read:chat"])
    with pytest.raises(TwitchActionError, match="missing scope user:write:chat"):
        await service.send_message(src, "hi")
    assert twitch.count("POST", "chat/messages") == 0  # refused before calling Twitch
    with pytest.raises(TwitchActionError, match="at most 500"):
        await service.send_message(src, "x" * 501)
    anon = await sync_to_async(ChatSource.objects.create)(platform="twitch", identifier="other")
    with pytest.raises(TwitchActionError, match="no connected Twitch account"):
        await service.send_message(anon, "hi")


async def test_dropped_message_is_an_error(twitch):
    src = await source_for(twitch, "5005")
    twitch.send_drop_reason = {"code": "msg_duplicate", "message": "Your message is identical to the previous one"}
    with pytest.raises(TwitchActionError, match="identical"):
        await TwitchChatService().send_message(src, "again")


async def test_bots_send_through_the_senders_registry(twitch):
    src = await source_for(twitch, "5005")
    await send_chat(src.pk, "from a bot")
    assert twitch.chat_sent[-1]["message"] == "from a bot"
    assert issubclass(TwitchActionError, SendError)


async def test_moderator_deletes_times_out_and_bans(twitch):
    twitch.moderators["3003"] = {"2001"}
    src = await source_for(twitch, "2001", sender_is_moderator=True)
    service = TwitchChatService()
    await service.delete_message(src, "msg-42")
    assert twitch.deleted == [{"broadcaster_id": "3003", "moderator_id": "2001", "message_id": "msg-42"}]
    result = await service.timeout_user(src, "2002", 600, "spam")
    assert result["end_time"] is not None
    assert twitch.bans[-1]["duration"] == 600 and twitch.bans[-1]["reason"] == "spam"
    result = await service.ban_user(src, "2002", "repeated spam")
    assert result["end_time"] is None and twitch.bans[-1]["duration"] is None
    await service.unban_user(src, "2002")
    assert twitch.unbans[-1]["user_id"] == "2002"
    with pytest.raises(TwitchActionError, match="1 to 1209600"):
        await service.timeout_user(src, "2002", 0)


async def test_non_moderator_gets_a_clear_error(twitch):
    src = await source_for(twitch, "2002")  # has the scopes, but is not a moderator there
    service = TwitchChatService()
    with pytest.raises(TwitchActionError, match="must be the broadcaster or a moderator"):
        await service.delete_message(src, "msg-1")
    with pytest.raises(TwitchActionError, match="not one of the broadcaster's moderators"):
        await service.ban_user(src, "2001")
    assert twitch.bans == [] and twitch.deleted == []


async def test_send_refreshes_an_expired_token(twitch):
    src = await source_for(twitch, "5005")
    twitch.expire_access_tokens("5005")
    await TwitchChatService().send_message(src, "still works")
    assert twitch.chat_sent[-1]["message"] == "still works" and twitch.refreshes == 1
