"""Pure mapping of liveChatMessage resources (the shapes the fake serves) to ChatEvents."""

from decimal import Decimal

import pytest

from ingest.events import Kind
from ingest.youtube.mapping import MalformedItem, map_item, normalize_video_id
from tests.fakes import youtube_api as f


def test_text_message_with_roles_and_verbatim_text():
    author = f._author(
        "UCabc", "Zoë <b>", isChatModerator=True, isChatSponsor=True, isVerified=True
    )
    ev = map_item(f.text_item("m1", "<img src=x onerror=alert(1)> & 素晴らしい", author))
    assert ev.kind == Kind.MESSAGE and ev.id == "m1" and ev.platform == "youtube"
    assert ev.text == "<img src=x onerror=alert(1)> & 素晴らしい"
    assert ev.author.id == "UCabc" and ev.author.display_name == "Zoë <b>"
    assert ev.author.roles == ["moderator", "member", "verified"]
    assert ev.sent_at.tzinfo is not None


def test_owner_is_broadcaster():
    ev = map_item(f.text_item("m1", "hi", f._author("UCo", "Owner", isChatOwner=True)))
    assert ev.author.roles == ["broadcaster"]


def test_super_chat_amount_currency_tier():
    ev = map_item(f.superchat_item("sc1", 5_000_000, "USD", "Great show!", tier=3))
    assert ev.kind == Kind.PAID
    assert ev.amount == Decimal("5") and ev.currency == "USD" and ev.amount_display == "5.00 USD"
    assert ev.text == "Great show!" and ev.extra["tier"] == 3


def test_super_sticker_keeps_sticker_and_amount():
    ev = map_item(f.supersticker_item("st1", 1_990_000, "EUR", alt="dancing cat", tier=1))
    assert ev.kind == Kind.PAID and ev.amount == Decimal("1.99") and ev.currency == "EUR"
    assert ev.extra["sticker"]["alt_text"] == "dancing cat" and ev.text == "dancing cat"
    assert ev.extra["tier"] == 1


def test_memberships_milestones_and_gifts():
    new = map_item(f.new_sponsor_item("ns1", level="Gold"))
    assert new.kind == Kind.MEMBERSHIP and new.extra["level"] == "Gold"
    ms = map_item(f.milestone_item("mm1", 12, "a year!"))
    assert ms.kind == Kind.MEMBERSHIP and ms.extra["months"] == 12 and ms.text == "a year!"
    gift = map_item(f.gifting_item("g1", 5))
    assert gift.kind == Kind.GIFT and gift.extra["count"] == 5
    got = map_item(f.gift_received_item("gr1", "UCgifter", "g1"))
    assert got.kind == Kind.MEMBERSHIP and got.extra["gifted"] is True
    assert got.extra["gifting_message_id"] == "g1"


def test_deletions_target_the_original_message():
    d = map_item(f.deleted_item("d1", "m1"))
    assert d.kind == Kind.DELETION and d.target_message_id == "m1" and d.moderator == "Mod"
    assert d.author is None  # the moderator is not the target
    r = map_item(f.retracted_item("r1", "m2"))
    assert r.kind == Kind.DELETION and r.target_message_id == "m2"
    t = map_item(f.tombstone_item("m3"))
    assert t.kind == Kind.DELETION and t.target_message_id == "m3" and t.id != "m3"


def test_bans_and_timeouts():
    ban = map_item(f.banned_item("b1", "UCtroll", "troll", "permanent"))
    assert ban.kind == Kind.BAN and ban.author.id == "UCtroll" and ban.moderator == "Mod"
    to = map_item(f.banned_item("b2", "UCtroll", "troll", "temporary", 300))
    assert to.kind == Kind.TIMEOUT and to.duration_seconds == 300
    assert (to.ends_at - to.sent_at).total_seconds() == 300


def test_chat_ended():
    ev = map_item(f.chat_ended_item("e1"))
    assert ev.kind == Kind.STREAM_END and ev.session.reason == "chat ended"


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"id": "x"},
        {"id": "x", "snippet": {"type": "textMessageEvent"}},  # no publishedAt
        f.item(
            "x",
            "textMessageEvent",
            "hi",
            author={"displayName": "no channel id"},
            textMessageDetails={"messageText": "hi"},
        ),
        f.item(
            "x", "superChatEvent", "", superChatDetails={"amountMicros": "abc", "currency": "USD"}
        ),
        f.item("x", "superChatEvent", "", superChatDetails={"amountMicros": "100"}),
        f.item("x", "messageDeletedEvent", "", messageDeletedDetails={}),
        f.item("x", "userBannedEvent", "", userBannedDetails={"banType": "permanent"}),
        f.item(
            "x",
            "userBannedEvent",
            "",
            userBannedDetails={"banType": "sometimes", "bannedUserDetails": {"channelId": "U"}},
        ),
        "not an object",
    ],
)
def test_malformed_items_raise(bad):
    with pytest.raises(MalformedItem):
        map_item(bad)


def test_unknown_types_with_content_are_kept_as_announcements_others_ignored():
    ev = map_item(f.item("n1", "someFutureEvent", "something new"))
    assert ev.kind == Kind.ANNOUNCEMENT and ev.text == "something new"
    assert map_item(f.item("n2", "someFutureEvent", "")) is None


@pytest.mark.parametrize(
    "value",
    [
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42",
        "youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "https://www.youtube.com/live/dQw4w9WgXcQ?feature=shared",
        "https://m.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "  https://studio.youtube.com/video/x/livestreaming?v=dQw4w9WgXcQ ",
    ],
)
def test_video_urls_normalize_to_the_id(value):
    assert normalize_video_id(value) == "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "short",
        "https://example.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com/@channel",
        "javascript:alert(1)",
    ],
)
def test_bad_video_ids_are_rejected(value):
    with pytest.raises(ValueError):
        normalize_video_id(value)
