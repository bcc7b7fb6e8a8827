"""The store's fast paths give exactly what the ORM would have."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db.models.signals import post_init

from ingest.models import ChatAuthor, ChatMessage
from ingest.store import _new_message, store_batch
from tests.factories import msg, source

pytestmark = pytest.mark.django_db


def test_fast_constructor_matches_the_model_constructor():
    src = source()
    who = ChatAuthor.objects.create(
        platform="demo", platform_user_id="9", login="x", first_seen=datetime.now(UTC),
        last_seen=datetime.now(UTC),
    )  # fmt: skip
    values = dict(
        source_id=src.pk,
        session=None,
        author=who,
        platform="demo",
        platform_message_id="p1",
        kind="paid",
        text="<b>hi</b>",
        fragments=[{"type": "text", "text": "hi"}],
        amount=Decimal("4.99"),
        currency="USD",
        extra={"tier": 2},
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    fast, slow = _new_message(**values), ChatMessage(**values)
    strip = lambda o: {k: v for k, v in o.__dict__.items() if k != "_state"}  # noqa: E731
    assert strip(fast) == strip(slow)
    assert fast._state.fields_cache == slow._state.fields_cache
    assert fast._state.adding and fast.author is who
    # Defaults are fresh per instance (no shared mutable default).
    assert _new_message(**{**values, "fragments": []}).extra is not _new_message().extra


def test_post_init_listeners_still_see_every_stored_message():
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance.platform_message_id)

    post_init.connect(listener, sender=ChatMessage)
    try:
        src = source()
        store_batch([msg(src, 1), msg(src, 2)])
    finally:
        post_init.disconnect(listener, sender=ChatMessage)
    assert seen == ["m1", "m2"]


def test_stored_rows_read_back_identical():
    src = source()
    ev = msg(
        src, 1, text="é 😀 <x>", kind="paid", amount=Decimal("2.5000"), currency="EUR",
        extra={"k": [1, "two"]},
    )  # fmt: skip
    result = store_batch([ev])
    row = ChatMessage.objects.get()
    assert result.message_objects[0].pk == row.pk == result.messages[0]["id"]
    assert (row.text, row.amount, row.currency, row.extra) == (
        "é 😀 <x>",
        Decimal("2.5"),
        "EUR",
        {"k": [1, "two"]},
    )
    assert row.sent_at == ev.sent_at and row.created_at is not None
    assert row.status == "new" and row.platform_state == "visible"
