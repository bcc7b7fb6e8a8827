"""The API's message shape (with seed-000 aliases) and streamed CSV/JSON exports.

Exports never hold the whole result in memory: rows come from ``queryset.iterator(chunk_size=...)``
and are encoded one chunk at a time. Under ASGI (daphne/uvicorn) Django would buffer a
*synchronous* streaming iterator completely before sending it, so there the same generator is
driven one chunk at a time through ``sync_to_async`` (the request's own thread, hence the same DB
connection and cursor) and handed to Django as an *asynchronous* iterator.

CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) get a
leading apostrophe: chat text is written by strangers.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from .models import ChatMessage, ModerationEvent
from .serializers import _iso, message_dict, moderation_dict

CHUNK_SIZE = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --- the API's message shape ------------------------------------------------------------------
def video_id(msg: ChatMessage) -> str | None:
    """Seed 000's ``video_id``: the YouTube video of the source, else the live session's id."""
    if msg.source.platform == "youtube":
        return msg.source.identifier
    if msg.session_id is not None and msg.session.platform_session_id:
        return msg.session.platform_session_id
    return None


def api_message_dict(msg: ChatMessage) -> dict:
    """``serializers.message_dict`` plus the field names seed-000 clients read.

    The queryset should ``select_related("author", "reviewed_by", "source", "session")``.
    """
    data = message_dict(msg)
    author = data["author"]
    data.update(
        {
            "message": data["text"],
            "author_name": (author["display_name"] or author["login"]) if author else None,
            "author_channel_id": author["platform_user_id"] if author else None,
            "published_at": data["sent_at"],
            "video_id": video_id(msg),
        }
    )
    return data


# Columns of the joined source that no message shape needs (credentials would be DECRYPTED per row).
_SOURCE_UNUSED = ("credentials", "settings", "state", "cursor", "description", "status_reason")


def with_api_relations(qs: QuerySet[ChatMessage]) -> QuerySet[ChatMessage]:
    return qs.select_related("author", "reviewed_by", "source", "session").defer(
        "extra", *(f"source__{f}" for f in _SOURCE_UNUSED)
    )


# --- CSV ----------------------------------------------------------------------------------------
def csv_safe(value) -> str | int:
    """A cell value a spreadsheet will show, not execute."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _author_cols(author) -> list:
    if author is None:
        return ["", "", ""]
    return [author.platform_user_id, author.login, author.display_name]


MESSAGE_COLUMNS = [
    "id", "platform", "source_id", "source_identifier", "session_id", "video_id",
    "platform_message_id", "kind", "author_platform_user_id", "author_login",
    "author_display_name", "text", "amount", "currency", "amount_display", "reply_to",
    "sent_at", "received_at", "edited_at", "status", "note", "reviewed_by", "reviewed_at",
    "display_selected", "pinned", "platform_state", "removed_at",
]  # fmt: skip


def message_row(m: ChatMessage) -> list:
    return [
        m.pk, m.platform, m.source_id, m.source.identifier, m.session_id, video_id(m),
        m.platform_message_id, m.kind, *_author_cols(m.author), m.text,
        format(m.amount.normalize(), "f") if m.amount is not None else None, m.currency,
        m.amount_display, m.reply_to, _iso(m.sent_at), _iso(m.received_at), _iso(m.edited_at),
        m.status, m.note, m.reviewed_by.get_username() if m.reviewed_by_id else None,
        _iso(m.reviewed_at), m.display_selected, m.pinned, m.platform_state, _iso(m.removed_at),
    ]  # fmt: skip


MODERATION_COLUMNS = [
    "id", "platform", "source_id", "source_identifier", "platform_event_id", "kind",
    "target_author_platform_user_id", "target_author_login", "target_author_display_name",
    "target_message_id", "target_text", "moderator", "reason", "ends_at", "duration_seconds",
    "occurred_at",
]  # fmt: skip


def moderation_row(e: ModerationEvent) -> list:
    return [
        e.pk, e.platform, e.source_id, e.source.identifier, e.platform_event_id, e.kind,
        *_author_cols(e.target_author), e.target_message_id, e.target_text, e.moderator,
        e.reason, _iso(e.ends_at), e.duration_seconds, _iso(e.occurred_at),
    ]  # fmt: skip


def _chunks(objects: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for obj in objects:
        chunk.append(obj)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def csv_stream(
    qs: QuerySet, columns: list[str], row: Callable, chunk_size: int | None = None
) -> Iterator[bytes]:
    """Header, then one encoded block per chunk of rows. UTF-8 with BOM (Excel reads it)."""
    chunk_size = chunk_size or CHUNK_SIZE
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    yield ("\ufeff" + buf.getvalue()).encode()
    for chunk in _chunks(qs.iterator(chunk_size=chunk_size), chunk_size):
        buf.seek(0)
        buf.truncate()
        writer.writerows([csv_safe(v) for v in row(obj)] for obj in chunk)
        yield buf.getvalue().encode()


def json_stream(
    qs: QuerySet, serialize: Callable, chunk_size: int | None = None
) -> Iterator[bytes]:
    """A JSON array, written incrementally: ``[`` + rows + ``]``."""
    chunk_size = chunk_size or CHUNK_SIZE
    yield b"["
    first = True
    for chunk in _chunks(qs.iterator(chunk_size=chunk_size), chunk_size):
        body = ",\n".join(
            json.dumps(serialize(obj), ensure_ascii=False, default=str) for obj in chunk
        )
        yield (("\n" if first else ",\n") + body).encode()
        first = False
    yield b"\n]\n"


# --- streaming responses ------------------------------------------------------------------------
_END = object()


async def _drive(gen: Iterator[bytes]):
    """Run a sync generator one step at a time in the request's thread (same DB connection)."""
    step = sync_to_async(functools.partial(next, gen, _END), thread_sensitive=True)
    try:
        while True:
            part = await step()
            if part is _END:
                return
            yield part
    finally:
        await sync_to_async(gen.close, thread_sensitive=True)()


def streaming_response(
    request, gen: Iterator[bytes], content_type: str, filename: str
) -> StreamingHttpResponse:
    content = _drive(gen) if isinstance(request, ASGIRequest) else gen
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def export_messages(request, qs: QuerySet[ChatMessage], fmt: str) -> StreamingHttpResponse:
    qs = with_api_relations(qs).order_by("id")
    if fmt == "csv":
        gen = csv_stream(qs, MESSAGE_COLUMNS, message_row)
        return streaming_response(request, gen, "text/csv; charset=utf-8", "messages.csv")
    gen = json_stream(qs, api_message_dict)
    return streaming_response(request, gen, "application/json", "messages.json")


def export_moderation(request, qs: QuerySet[ModerationEvent], fmt: str) -> StreamingHttpResponse:
    qs = (
        qs.select_related("target_author", "source")
        .defer("extra", *(f"source__{f}" for f in _SOURCE_UNUSED))
        .order_by("id")
    )
    if fmt == "csv":
        gen = csv_stream(qs, MODERATION_COLUMNS, moderation_row)
        return streaming_response(
            request, gen, "text/csv; charset=utf-8", "moderation-events.csv"
        )
    gen = json_stream(qs, moderation_dict)
    return streaming_response(request, gen, "application/json", "moderation-events.json")
