"""The pipeline's storage rules: dedup, authors, sessions, moderation, cursors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingest.events import ChatEvent, Kind, SessionInfo
from ingest.models import ChatAuthor, ChatMessage, ChatSource, LiveSession, ModerationEvent
from ingest.store import store_batch
from tests.factories import T0, author, msg, source

pytestmark = pytest.mark.django_db


def test_redelivery_never_duplicates():
    src = source()
    first = store_batch([msg(src, 1), msg(src, 2)])
    again = store_batch([msg(src, 2), msg(src, 3), msg(src, 3)])
    assert [m["platform_message_id"] for m in first.messages] == ["m1", "m2"]
    assert [m["platform_message_id"] for m in again.messages] == ["m3"]
    assert again.duplicates == 2
    assert ChatMessage.objects.count() == 3


def test_batch_costs_a_bounded_number_of_queries():
    src = source()
    events = [msg(src, i, who=author(uid=f"u{i % 50}", login=f"user{i % 50}")) for i in range(500)]
    with CaptureQueriesContext(connection) as ctx:
        result = store_batch(events)
    assert len(result.messages) == 500
    sql = [q["sql"] for q in ctx.captured_queries]
    inserts = [q for q in sql if q.startswith('INSERT INTO "ingest_chatmessage"')]
    others = [q for q in sql if q not in inserts]
    # Multi-row INSERTs (SQLite splits them by its bound-parameter limit), never one per message.
    assert 1 <= len(inserts) <= 20
    assert len(others) <= 12, [q[:80] for q in others]


def test_author_identity_is_the_platform_user_id_not_the_name():
    src = source()
    store_batch([msg(src, 1, who=author(uid="42", login="old", name="Old Name"))])
    store_batch([msg(src, 2, who=author(uid="42", login="new", name="Nouveau Nom"))])
    assert ChatAuthor.objects.count() == 1
    a = ChatAuthor.objects.get()
    assert (a.login, a.display_name) == ("new", "Nouveau Nom")
    assert ChatMessage.objects.filter(author=a).count() == 2


def test_hostile_text_is_stored_verbatim():
    src = source()
    text = "<img src=x onerror=alert(1)> & ' \" \u202e"
    store_batch([msg(src, 1, text=text)])
    assert ChatMessage.objects.get().text == text


def test_paid_message_keeps_amount_and_currency():
    src = source()
    store_batch(
        [
            msg(
                src,
                1,
                kind=Kind.PAID,
                amount=Decimal("4.99"),
                currency="USD",
                amount_display="$4.99",
            )
        ]
    )
    m = ChatMessage.objects.get()
    assert (m.kind, m.amount, m.currency) == ("paid", Decimal("4.99"), "USD")


def test_deletion_marks_the_message_and_keeps_its_text():
    src = source()
    store_batch([msg(src, 1, text="rude words")])
    ChatMessage.objects.update(display_selected=True)
    result = store_batch(
        [
            ChatEvent(
                kind=Kind.DELETION,
                platform="demo",
                source_id=src.pk,
                id="d1",
                target_message_id="m1",
                sent_at=T0 + timedelta(seconds=5),
            )
        ]
    )
    m = ChatMessage.objects.get()
    assert m.platform_state == "deleted" and not m.display_selected
    ev = ModerationEvent.objects.get()
    assert ev.target_text == "rude words"
    assert result.moderation[0]["affected"] == [{"id": m.pk, "platform_state": "deleted"}]


def test_timeout_removes_only_that_authors_earlier_messages():
    src = source()
    bob = author(uid="b", login="bob")
    store_batch([msg(src, 1, who=bob), msg(src, 2), msg(src, 3, who=bob)])
    store_batch(
        [
            ChatEvent(
                kind=Kind.TIMEOUT,
                platform="demo",
                source_id=src.pk,
                id="t1",
                author=bob,
                duration_seconds=600,
                sent_at=T0 + timedelta(seconds=10),
            )
        ]
    )
    store_batch([msg(src, 20, who=bob)])  # after the timeout: visible
    states = dict(ChatMessage.objects.values_list("platform_message_id", "platform_state"))
    assert states == {"m1": "timed_out", "m2": "visible", "m3": "timed_out", "m20": "visible"}
    ev = ModerationEvent.objects.get()
    assert ev.ends_at == T0 + timedelta(seconds=610)  # sent time + duration, not "now"


def test_clear_removes_recent_messages_of_the_source_only():
    src, other = source(), source(identifier="other")
    store_batch([msg(src, 1), msg(other, 2, id="o2")])
    store_batch(
        [
            ChatEvent(
                kind=Kind.CLEAR,
                platform="demo",
                source_id=src.pk,
                id="c1",
                sent_at=T0 + timedelta(seconds=3),
            )
        ]
    )
    states = dict(ChatMessage.objects.values_list("platform_message_id", "platform_state"))
    assert states == {"m1": "cleared", "o2": "visible"}


def test_messages_link_to_the_live_session_and_offline_messages_are_kept():
    src = source()
    store_batch([msg(src, 1)])  # offline: kept, no session
    store_batch(
        [
            ChatEvent(
                kind=Kind.STREAM_START,
                platform="demo",
                source_id=src.pk,
                id="s1",
                session=SessionInfo(platform_session_id="stream-1", title="Show"),
                sent_at=T0 + timedelta(seconds=5),
            ),
            msg(src, 6),
            ChatEvent(
                kind=Kind.STREAM_END,
                platform="demo",
                source_id=src.pk,
                id="s2",
                sent_at=T0 + timedelta(seconds=8),
            ),
            msg(src, 9),
        ]
    )
    session = LiveSession.objects.get()
    assert session.title == "Show" and session.ended_at == T0 + timedelta(seconds=8)
    links = dict(ChatMessage.objects.values_list("platform_message_id", "session_id"))
    assert links == {"m1": None, "m6": session.pk, "m9": None}


def test_cursor_is_saved_with_the_batch():
    src = source()
    store_batch([msg(src, 1, cursor="page-1"), msg(src, 2, cursor="page-2")])
    assert ChatSource.objects.get(pk=src.pk).cursor == "page-2"


def test_edit_updates_text():
    src = source()
    store_batch([msg(src, 1, text="helo")])
    r = store_batch(
        [
            ChatEvent(
                kind=Kind.EDIT,
                platform="demo",
                source_id=src.pk,
                id="e1",
                target_message_id="m1",
                text="hello",
                author=author(),
            )
        ]
    )
    assert ChatMessage.objects.get().text == "hello"
    assert r.updated[0]["text"] == "hello"


def test_invalid_events_are_refused_by_the_schema():
    with pytest.raises(ValueError):
        ChatEvent(kind=Kind.MESSAGE, platform="demo", id="x")  # no author
    with pytest.raises(ValueError):
        ChatEvent(kind=Kind.DELETION, platform="demo", id="x")  # no target
    with pytest.raises(ValueError):
        ChatEvent(
            kind=Kind.PAID, platform="demo", id="x", author=author(), amount=Decimal(1)
        )  # no currency


def test_a_ban_does_not_wipe_the_targets_roles():
    src = source()
    sub = author(uid="s", login="sub", name="Sub", roles=["subscriber"])
    store_batch([msg(src, 1, who=sub)])
    bare = author(uid="s", login="sub", name="Sub")  # moderation events carry no badges
    store_batch([ChatEvent(kind=Kind.TIMEOUT, platform="demo", source_id=src.pk, id="t1", author=bare, duration_seconds=60, sent_at=T0 + timedelta(seconds=5))])
    assert ChatAuthor.objects.get(platform_user_id="s").roles == ["subscriber"]
