"""Small helpers to build events and sources in tests."""

from datetime import UTC, datetime, timedelta

from ingest.events import Author, ChatEvent, Kind
from ingest.models import ChatSource

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def source(platform="demo", identifier="test", **kw) -> ChatSource:
    return ChatSource.objects.create(platform=platform, identifier=identifier, **kw)


def author(uid="u1", login="alice", name="Alice", **kw) -> Author:
    return Author(id=uid, login=login, display_name=name, **kw)


def msg(src, n, text="hello", who=None, at=None, **kw) -> ChatEvent:
    return ChatEvent(
        kind=kw.pop("kind", Kind.MESSAGE),
        platform=src.platform,
        source_id=src.pk,
        id=kw.pop("id", f"m{n}"),
        author=who or author(),
        text=text,
        sent_at=at or T0 + timedelta(seconds=n),
        **kw,
    )
