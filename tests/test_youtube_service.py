"""Send and moderate through the real client against the fake: insert, delete, bans, scopes."""

import pytest

from ingest.models import ChatMessage, ModerationEvent, PlatformAccount, QuotaUsage
from ingest.youtube import service
from ingest.youtube.client import NeedsReconnect, QuotaExceeded, ScopeError
from ingest.youtube.quota import mark_exhausted
from tests.fakes import youtube_api as f
from tests.youtube_support import (  # noqa: F401 (fixtures)
    CHAT,
    VIDEO,
    Run,
    close_thread_connections_fixture,
    db,
    fake_fixture,
    make_account,
    make_source,
    yt_fixture,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _units():
    row = QuotaUsage.objects.first()
    return row.units if row else 0


@pytest.fixture
def live(yt):
    chat = yt.add_video(VIDEO, chat_id=CHAT)
    chat.add(f.text_item("m1", "spam", f._author("UCtroll", "troll")))
    account, _ = make_account(yt)
    return chat, make_source(account=account)


def test_send_message_posts_to_the_live_chat_and_costs_quota(yt, live):
    chat, src = live
    result = service.send_message(src, "  Welcome <everyone> 👋 ")
    call = yt.calls("liveChatMessages.insert")[0]
    assert call.body["snippet"] == {
        "liveChatId": CHAT,
        "type": "textMessageEvent",
        "textMessageDetails": {"messageText": "Welcome <everyone> 👋"},
    }
    assert call.params["part"] == "snippet"
    assert result["id"].startswith("ins-") and chat.items[-1]["id"] == result["id"]
    assert _units() == 1 + 20  # videos.list to find the chat + insert
    service.send_message(src.pk, "again")
    assert _units() == 1 + 20 + 20


def test_send_message_validates_text(yt, live):
    _, src = live
    with pytest.raises(ValueError, match="empty"):
        service.send_message(src, "   ")
    with pytest.raises(ValueError, match="200"):
        service.send_message(src, "x" * 201)
    assert yt.calls("liveChatMessages.insert") == []


async def test_delete_and_bans_reach_youtube_and_come_back_as_moderation(yt, live):
    chat, src = live
    await Run(src.pk, max_polls=1).run()  # stores m1, remembers the chat id
    await db(service.delete_message, src.pk, "m1")
    assert yt.calls("liveChatMessages.delete")[0].params["id"] == "m1"
    ban = await db(service.ban_user, src.pk, "UCtroll", seconds=300)
    body = yt.calls("liveChatBans.insert")[0].body["snippet"]
    assert body == {
        "liveChatId": CHAT,
        "type": "temporary",
        "banDurationSeconds": 300,
        "bannedUserDetails": {"channelId": "UCtroll"},
    }
    assert ban["type"] == "temporary"
    await db(service.ban_user, src.pk, "UCtroll")
    assert yt.calls("liveChatBans.insert")[1].body["snippet"]["type"] == "permanent"
    assert "banDurationSeconds" not in yt.calls("liveChatBans.insert")[1].body["snippet"]
    # videos.list 1 + list 5 (the read) + delete 20 + 2 bans x 50; the chat id came from state
    assert await db(_units) == 1 + 5 + 20 + 100
    assert yt.calls("videos.list").__len__() == 1
    # YouTube reports them in the chat: the next poll applies them here
    await Run(src.pk, max_polls=1).run()
    msg = await db(ChatMessage.objects.get, platform_message_id="m1")
    assert msg.platform_state == "deleted"
    kinds = await db(lambda: sorted(ModerationEvent.objects.values_list("kind", flat=True)))
    assert kinds == ["ban", "deletion", "timeout"]


def test_read_only_account_gets_a_clear_scope_message_without_spending_quota(yt):
    yt.add_video(VIDEO, chat_id=CHAT)
    account, _ = make_account(yt, scopes=(f.READONLY,))
    src = make_source(account=account)
    with pytest.raises(ScopeError, match="read-only.*youtube.force-ssl"):
        service.send_message(src, "hi")
    assert yt.calls("liveChatMessages.insert") == [] and _units() == 0


def test_insufficient_scope_from_youtube_is_explained(yt):
    yt.add_video(VIDEO, chat_id=CHAT)
    account, _ = make_account(yt, scopes=(f.READONLY,))
    PlatformAccount.objects.filter(pk=account.pk).update(scopes=[])  # scopes unknown locally
    src = make_source(account=account)
    with pytest.raises(ScopeError, match="youtube.force-ssl"):
        service.ban_user(src, "UCtroll", seconds=60)
    assert len(yt.calls("liveChatBans.insert")) == 1
    assert _units() == 1 + 50  # a refused call still costs its units


def test_api_key_alone_cannot_write(yt, settings):
    settings.YOUTUBE_API_KEY = "AIza-test"
    yt.add_video(VIDEO, chat_id=CHAT)
    src = make_source()
    with pytest.raises(NeedsReconnect, match="no YouTube account connected"):
        service.send_message(src, "hi")


def test_exhausted_quota_blocks_writes_until_the_reset(yt, live):
    _, src = live
    mark_exhausted()
    with pytest.raises(QuotaExceeded, match="possible again at"):
        service.delete_message(src, "m1")
    assert yt.calls("liveChatMessages.delete") == []


def test_not_live_means_no_chat_to_write_to(yt):
    yt.add_video(VIDEO, chat_id=None)
    account, _ = make_account(yt)
    src = make_source(account=account)
    with pytest.raises(Exception, match="not live"):
        service.send_message(src, "hi")
