"""Write a batch of normalized events in a few queries (never a query per message).

Per batch: one SELECT + at most two writes for authors, one SELECT + one INSERT for messages,
one UPDATE per source for the resume cursor; moderation, edits and session changes are rare and
cost a few queries each. Re-delivered events (same platform id) are skipped, never duplicated.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, signals
from django.db.models.base import ModelState
from django.utils import timezone

from .events import MESSAGE_KINDS, ChatEvent, Kind
from .models import (
    ChatAuthor,
    ChatMessage,
    ChatSource,
    LiveSession,
    ModerationEvent,
    PlatformState,
)
from .serializers import message_dict, moderation_dict, session_dict

log = logging.getLogger(__name__)

# How far back a whole-chat clear reaches (platform clears only what is on screen).
CLEAR_WINDOW = timedelta(hours=24)
ZERO = timedelta(0)

_STATE_FOR_KIND = {
    Kind.DELETION: PlatformState.DELETED,
    Kind.BAN: PlatformState.BANNED,
    Kind.TIMEOUT: PlatformState.TIMED_OUT,
    Kind.CLEAR: PlatformState.CLEARED,
}


@dataclass
class StoredBatch:
    """What a batch changed, already serialized for publishing."""

    messages: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)  # edits
    moderation: list[dict] = field(default_factory=list)  # each with "affected": [{id, state}]
    sessions: list[dict] = field(default_factory=list)
    duplicates: int = 0
    invalid: int = 0
    # Raw stored objects, for in-process listeners (meetings, bots).
    message_objects: list[ChatMessage] = field(default_factory=list)

    def __bool__(self):
        return bool(self.messages or self.updated or self.moderation or self.sessions)


def _author_fields(a) -> dict:
    return {
        "login": a.login[:255],
        "display_name": a.display_name[:255],
        "avatar_url": a.avatar_url[:1000],
        "roles": list(a.roles),
        "badges": [b.model_dump(exclude_defaults=True) for b in a.badges],
    }


def _upsert_authors(events: list[ChatEvent], now) -> dict[tuple[str, str], ChatAuthor]:
    # Only what a person SAYS describes them (roles, badges); a ban or timeout names its target
    # without badges and must not wipe them.
    wanted: dict[tuple[str, str], dict] = {}
    spoke: set[tuple[str, str]] = set()
    for ev in events:
        if ev.author is None:
            continue
        key = (ev.platform, ev.author.id)
        fields_ = _author_fields(ev.author)
        if ev.kind in MESSAGE_KINDS:
            spoke.add(key)
            wanted[key] = fields_
        elif key not in spoke:
            fields_.pop("roles")
            fields_.pop("badges")
            wanted[key] = fields_
    if not wanted:
        return {}
    by_platform = defaultdict(list)
    for platform, uid in wanted:
        by_platform[platform].append(uid)
    q = Q()
    for platform, uids in by_platform.items():
        q |= Q(platform=platform, platform_user_id__in=uids)
    found = {(a.platform, a.platform_user_id): a for a in ChatAuthor.objects.filter(q)}
    missing = [k for k in wanted if k not in found]
    if missing:
        ChatAuthor.objects.bulk_create(
            [
                ChatAuthor(
                    platform=p, platform_user_id=u, first_seen=now, last_seen=now, **wanted[(p, u)]
                )
                for p, u in missing
            ],
            ignore_conflicts=True,  # another worker may create the same person concurrently
        )
        q = Q()
        for p, u in missing:
            q |= Q(platform=p, platform_user_id=u)
        found.update({(a.platform, a.platform_user_id): a for a in ChatAuthor.objects.filter(q)})
    changed = []
    for key, fields_ in wanted.items():
        author = found[key]
        stale = key in spoke and (now - author.last_seen) > timedelta(minutes=5)
        dirty = any(getattr(author, k) != v for k, v in fields_.items() if v or k == "roles")
        if dirty or stale:
            for k, v in fields_.items():
                if v or k == "roles":
                    setattr(author, k, v)
            if key in spoke:
                author.last_seen = now
            changed.append(author)
    if changed:
        ChatAuthor.objects.bulk_update(
            changed, ["login", "display_name", "avatar_url", "roles", "badges", "last_seen"]
        )
    return found


def _session_for(sessions: list[LiveSession], when):
    for s in sessions:
        if s.started_at <= when and (s.ended_at is None or when <= s.ended_at):
            return s
    return None


def _open_sessions(source_ids) -> dict[int, list[LiveSession]]:
    sessions: dict[int, list[LiveSession]] = defaultdict(list)
    for s in LiveSession.objects.filter(source_id__in=source_ids, ended_at__isnull=True):
        sessions[s.source_id].append(s)
    return sessions


def _apply_sessions(events, sessions: dict[int, list[LiveSession]], result: StoredBatch):
    """Open/close live sessions in event order; ``sessions`` keeps those messages may link to."""
    for ev in events:
        info = ev.session
        open_ = [s for s in sessions[ev.source_id] if s.ended_at is None]
        if ev.kind == Kind.STREAM_START:
            same = [
                s
                for s in open_
                if info
                and info.platform_session_id
                and s.platform_session_id == info.platform_session_id
            ]
            if same:  # a repeated "online" for the stream we already have
                s = same[0]
                s.title = info.title or s.title
                s.category = info.category or s.category
                if info.viewer_count is not None:
                    s.viewer_count = info.viewer_count
                    s.peak_viewer_count = max(s.peak_viewer_count or 0, info.viewer_count)
                s.save()
            else:
                for old in open_:  # a new stream implies the old one ended
                    old.ended_at = ev.sent_at
                    old.end_reason = "superseded by a new stream"
                    old.save(update_fields=["ended_at", "end_reason"])
                s = LiveSession.objects.create(
                    source_id=ev.source_id,
                    platform_session_id=info.platform_session_id if info else "",
                    title=info.title if info else "",
                    category=info.category if info else "",
                    viewer_count=info.viewer_count if info else None,
                    peak_viewer_count=info.viewer_count if info else None,
                    started_at=ev.sent_at,
                )
                sessions[ev.source_id].append(s)
            result.sessions.append(session_dict(s))
        else:
            for s in open_:
                s.ended_at = ev.sent_at
                s.end_reason = (info.reason if info else "") or "stream ended"
                s.save(update_fields=["ended_at", "end_reason"])
                result.sessions.append(session_dict(s))


# --- the message INSERT ---------------------------------------------------------------------
# Django's bulk_create compiles every field of every row through the generic expression machinery
# (~10 us per field on this model): at thousands of messages a second that, not the database, was
# the ingest bottleneck. Where the database can RETURN rows (SQLite 3.35+, PostgreSQL) one
# INSERT ... ON CONFLICT DO NOTHING RETURNING stores a chunk, with values adapted by per-column
# converters prepared once. Rows the database skipped are duplicates (another worker stored them
# first), so no separate existence check is needed.
# - SQLite: multi-row VALUES, as many rows per statement as its variable limit allows.
# - PostgreSQL: the whole chunk as ONE jsonb parameter (INSERT ... SELECT FROM
#   jsonb_to_recordset(...)): psycopg parses a query with thousands of placeholders slowly (not
#   cached above 4 kB) and quotes array parameters element by element in Python; json.dumps is C.
_MESSAGE_FIELDS = None
_SQL_CACHE: dict[tuple, str] = {}

_PLAIN_TYPES = {
    "CharField": str,
    "TextField": str,
    "BooleanField": bool,
    "IntegerField": int,
    "BigIntegerField": int,
    "PositiveIntegerField": int,
    "ForeignKey": int,
}


def _message_fields():
    global _MESSAGE_FIELDS
    if _MESSAGE_FIELDS is None:
        _MESSAGE_FIELDS = [f for f in ChatMessage._meta.concrete_fields if not f.primary_key]
    return _MESSAGE_FIELDS


def _json_converters(conn) -> list:
    """PostgreSQL: one adapter per column to a JSON value that jsonb_to_recordset casts back."""
    convs = []
    for f in _message_fields():
        kind = f.get_internal_type()
        if kind in _PLAIN_TYPES:

            def conv(v, f=f, plain=_PLAIN_TYPES[kind]):
                if v is None or type(v) is plain:
                    return v
                return f.get_db_prep_save(v, conn)

        elif kind == "DateTimeField":

            def conv(v, f=f):
                if v is None:
                    return None
                if v.tzinfo is None:
                    v = f.get_db_prep_save(v, conn)  # naive: Django's warning and conversion
                return v.isoformat()

        elif kind == "JSONField":

            def conv(v, f=f):
                if v is None or f.encoder is None:
                    return v  # nested as is: the column is jsonb
                return json.loads(json.dumps(v, cls=f.encoder))

        else:  # decimals (exact as text) and anything else Django adapts to a scalar

            def conv(v, f=f):
                v = f.get_db_prep_save(v, conn)
                return v if v is None or isinstance(v, bool | int | float | str) else str(v)

        convs.append(conv)
    return convs


def _converters(conn) -> list:
    """One value adapter per column: plain values pass through, the rest as Django does it."""
    if conn.vendor == "postgresql":
        return _json_converters(conn)
    ops = conn.ops
    convs = []
    for f in _message_fields():
        kind = f.get_internal_type()
        plain = _PLAIN_TYPES.get(kind)
        if plain is not None:

            def conv(v, f=f, plain=plain):
                if v is None or type(v) is plain:
                    return v
                return f.get_db_prep_save(v, conn)

        elif kind == "DateTimeField":
            utc_db = conn.vendor == "sqlite" and conn.timezone == UTC

            def conv(v, f=f, utc_db=utc_db):
                if v is None:
                    return None
                if v.tzinfo is None:
                    return f.get_db_prep_save(v, conn)  # naive: Django's warning and conversion
                if utc_db and v.utcoffset() == ZERO:  # what adapt_datetimefield_value gives
                    return str(v.replace(tzinfo=None))
                return ops.adapt_datetimefield_value(v)

        elif kind == "JSONField":

            def conv(v, f=f):  # what connection.ops.adapt_json_value does (PostgreSQL: ::jsonb)
                return None if v is None else json.dumps(v, cls=f.encoder)

        else:  # decimals and anything else: exactly what Django does

            def conv(v, f=f):
                return f.get_db_prep_save(v, conn)

        convs.append(conv)
    return convs


def _max_params(conn) -> int:
    import sqlite3

    getlimit = getattr(conn.connection, "getlimit", None)
    if getlimit is not None:  # Python 3.11+: the real limit (32766 since SQLite 3.32)
        return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return conn.features.max_query_params or 999


def _insert_sql(conn, nrows: int) -> str:
    """The INSERT for ``nrows`` rows (SQLite) or for any number of rows (PostgreSQL)."""
    key = (conn.vendor, nrows if conn.vendor == "sqlite" else 0)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        qn = conn.ops.quote_name
        fields = _message_fields()
        cols = ", ".join(qn(f.column) for f in fields)
        if conn.vendor == "postgresql":
            types = ", ".join(f"{qn(f.column)} {f.db_type(conn)}" for f in fields)
            source = f"SELECT {cols} FROM jsonb_to_recordset(%s::jsonb) AS x({types})"  # noqa: S608
        else:
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            source = "VALUES " + ", ".join([row] * nrows)
        # Only identifiers from the model's metadata are interpolated; values are parameters.
        sql = (
            f"INSERT INTO {qn(ChatMessage._meta.db_table)} ({cols}) {source}"  # noqa: S608
            f" ON CONFLICT ({qn('platform')}, {qn('platform_message_id')}) DO NOTHING"
            f" RETURNING {qn('id')}, {qn('platform')}, {qn('platform_message_id')}"
        )
        _SQL_CACHE[key] = sql
    return sql


def _fast_insert_supported(conn) -> bool:
    return (
        conn.vendor in ("sqlite", "postgresql") and conn.features.can_return_rows_from_bulk_insert
    )


def _insert_messages_returning(rows: list[ChatMessage]) -> list[ChatMessage]:
    conn = connection
    conn.ensure_connection()
    fields = _message_fields()
    attnames = [f.attname for f in fields]
    convs = _converters(conn)
    # What bulk_create's pre_save would do: auto_now(_add) timestamps.
    auto = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    if auto:
        now = timezone.now()
        for row in rows:
            for a in auto:
                row.__dict__[a] = now
    ids: dict[tuple[str, str], int] = {}
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            columns = [f.column for f in fields]
            plan = list(zip(columns, attnames, convs, strict=True))
            doc = [{c: conv(row.__dict__[a]) for c, a, conv in plan} for row in rows]
            cursor.execute(_insert_sql(conn, len(rows)), [json.dumps(doc, ensure_ascii=False)])
            for pk, platform, pmid in cursor.fetchall():
                ids[(platform, pmid)] = pk
        else:
            per_chunk = max(1, _max_params(conn) // len(fields))
            for start in range(0, len(rows), per_chunk):
                chunk = rows[start : start + per_chunk]
                params = []
                for row in chunk:
                    d = row.__dict__
                    params.extend(conv(d[a]) for a, conv in zip(attnames, convs, strict=True))
                cursor.execute(_insert_sql(conn, len(chunk)), params)
                for pk, platform, pmid in cursor.fetchall():
                    ids[(platform, pmid)] = pk
    stored = []
    for row in rows:
        pk = ids.pop((row.platform, row.platform_message_id), None)
        if pk is not None:
            row.pk = pk
            row._state.adding = False
            row._state.db = conn.alias
            stored.append(row)
    return stored


_MESSAGE_DEFAULTS = None


def _new_message(**values) -> ChatMessage:
    """``ChatMessage(**values)`` without Model.__init__'s per-field loop (~10% of the ingest CPU).

    Same result for this use: every concrete field gets its default, ``values`` override, a
    related object passed by name (``author=``, ``session=``) sets its ``*_id`` and is cached like
    __init__ does (async listeners read ``msg.author`` without a query), and post_init is sent.
    Falls back to the real constructor if anything listens to pre_init.
    """
    global _MESSAGE_DEFAULTS
    if signals.pre_init.has_listeners(ChatMessage):
        return ChatMessage(**values)
    if _MESSAGE_DEFAULTS is None:
        _MESSAGE_DEFAULTS = {
            f.attname: (f.get_default if callable(f.default) else f.get_default())
            for f in ChatMessage._meta.concrete_fields
        }
        _MESSAGE_DEFAULTS["id"] = None
    obj = ChatMessage.__new__(ChatMessage)
    d = obj.__dict__
    for attname, default in _MESSAGE_DEFAULTS.items():
        d[attname] = default() if callable(default) else default
    state = ModelState()
    for name, value in values.items():
        if name in _RELATED:
            d[name + "_id"] = value.pk if value is not None else None
            state.fields_cache[name] = value
        else:
            d[name] = value
    d["_state"] = state
    if signals.post_init.has_listeners(ChatMessage):
        signals.post_init.send(sender=ChatMessage, instance=obj)
    return obj


_RELATED = {"source", "session", "author", "reviewed_by", "removal_event"}


def _existing_messages(msg_events) -> set[tuple[str, str]]:
    if _fast_insert_supported(connection):
        return set()  # ON CONFLICT DO NOTHING skips them in the INSERT itself
    by_platform = defaultdict(list)
    for ev in msg_events:
        by_platform[ev.platform].append(ev.id)
    q = Q()
    for platform, ids in by_platform.items():
        q |= Q(platform=platform, platform_message_id__in=ids)
    return set(ChatMessage.objects.filter(q).values_list("platform", "platform_message_id"))


def _insert_messages(rows: list[ChatMessage]) -> list[ChatMessage]:
    if _fast_insert_supported(connection):
        return _insert_messages_returning(rows)
    try:
        with transaction.atomic():
            return ChatMessage.objects.bulk_create(rows)
    except IntegrityError:
        # A concurrent writer stored some of these (only possible around a lease handover).
        stored = []
        for row in rows:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                stored.append(row)
            except IntegrityError:
                continue
        return stored


def _apply_edits(events, result: StoredBatch):
    for ev in events:
        msg = (
            ChatMessage.objects.filter(
                platform=ev.platform, platform_message_id=ev.target_message_id
            )
            .select_related("author", "reviewed_by")
            .first()
        )
        if msg is None:
            continue
        msg.text = ev.text
        msg.fragments = [f.model_dump(exclude_defaults=True) for f in ev.fragments]
        msg.edited_at = ev.sent_at
        msg.save(update_fields=["text", "fragments", "edited_at"])
        result.updated.append(message_dict(msg))


def _apply_moderation(events, authors, sessions, now, result: StoredBatch):
    """Store moderation events and mark the messages they remove."""
    keys = [ev.id for ev in events]
    platforms = {ev.platform for ev in events}
    existing = set(
        ModerationEvent.objects.filter(
            platform__in=platforms, platform_event_id__in=keys
        ).values_list("platform", "platform_event_id")
    )
    for ev in events:
        if (ev.platform, ev.id) in existing:
            result.duplicates += 1
            continue
        author = authors.get((ev.platform, ev.author.id)) if ev.author else None
        target_text = ev.target_text
        messages = ChatMessage.objects.filter(
            source_id=ev.source_id, platform_state=PlatformState.VISIBLE
        )
        if ev.kind == Kind.DELETION:
            messages = ChatMessage.objects.filter(
                platform=ev.platform, platform_message_id=ev.target_message_id
            )
            if not target_text:
                target_text = messages.values_list("text", flat=True).first() or ""
        elif ev.kind in (Kind.BAN, Kind.TIMEOUT):
            messages = messages.filter(author=author, sent_at__lte=ev.sent_at)
        elif ev.kind == Kind.CLEAR:
            messages = messages.filter(
                sent_at__lte=ev.sent_at, sent_at__gte=ev.sent_at - CLEAR_WINDOW
            )
            if author is not None:
                messages = messages.filter(author=author)
        else:  # unban changes no message
            messages = ChatMessage.objects.none()
        session = _session_for(sessions.get(ev.source_id, []), ev.sent_at)
        mod = ModerationEvent.objects.create(
            source_id=ev.source_id,
            session=session,
            platform=ev.platform,
            platform_event_id=ev.id,
            kind=ev.kind.value,
            target_author=author,
            target_message_id=ev.target_message_id,
            target_text=target_text,
            moderator=ev.moderator,
            reason=ev.reason,
            ends_at=ev.ends_at,
            duration_seconds=ev.duration_seconds,
            occurred_at=ev.sent_at,
            extra=ev.extra,
        )
        state = _STATE_FOR_KIND.get(ev.kind)
        affected_ids = list(messages.values_list("id", flat=True)) if state else []
        if affected_ids:
            ChatMessage.objects.filter(id__in=affected_ids).update(
                platform_state=state, removed_at=now, removal_event=mod, display_selected=False
            )
        data = moderation_dict(mod, author)
        data["affected"] = [{"id": i, "platform_state": state.value} for i in affected_ids]
        result.moderation.append(data)


def store_batch(events: list[ChatEvent]) -> StoredBatch:
    """Store a batch of validated events atomically and say what changed."""
    result = StoredBatch()
    if not events:
        return result
    now = timezone.now()
    last_cursor: dict[int, str] = {}
    for ev in events:
        if ev.cursor is not None:
            last_cursor[ev.source_id] = ev.cursor
    # Deduplicate inside the batch (a platform may re-deliver at once).
    seen: set[tuple[str, str]] = set()
    unique = []
    for ev in events:
        key = (ev.platform, ev.id)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        unique.append(ev)
    events = unique

    with transaction.atomic():
        source_ids = {ev.source_id for ev in events}
        sources = {s.pk: s for s in ChatSource.objects.filter(pk__in=source_ids)}
        events = [ev for ev in events if ev.source_id in sources]
        authors = _upsert_authors(events, now)
        sessions = _open_sessions(list(sources))
        session_events = [ev for ev in events if ev.kind in (Kind.STREAM_START, Kind.STREAM_END)]
        if session_events:
            _apply_sessions(session_events, sessions, result)

        msg_events = [ev for ev in events if ev.kind in MESSAGE_KINDS]
        if msg_events:
            existing = _existing_messages(msg_events)
            rows = []
            for ev in msg_events:
                if (ev.platform, ev.id) in existing:
                    result.duplicates += 1
                    continue
                author = authors.get((ev.platform, ev.author.id)) if ev.author else None
                session = _session_for(sessions.get(ev.source_id, []), ev.sent_at)
                rows.append(
                    _new_message(
                        source_id=ev.source_id,
                        session=session,
                        author=author,
                        platform=ev.platform,
                        platform_message_id=ev.id,
                        kind=ev.kind.value,
                        text=ev.text,
                        fragments=[f.model_dump(exclude_defaults=True) for f in ev.fragments],
                        amount=ev.amount,
                        currency=ev.currency,
                        amount_display=ev.amount_display,
                        reply_to=ev.reply_to,
                        extra=ev.extra,
                        sent_at=ev.sent_at,
                        received_at=ev.received_at,
                    )
                )
            stored = _insert_messages(rows)
            result.duplicates += len(rows) - len(stored)
            result.message_objects = stored
            result.messages = [message_dict(m, m.author, reviewed_by_name=None) for m in stored]

        edits = [ev for ev in events if ev.kind == Kind.EDIT]
        if edits:
            _apply_edits(edits, result)
        mods = [ev for ev in events if ev.is_moderation]
        if mods:
            _apply_moderation(mods, authors, sessions, now, result)

        # Resume cursors and last activity: one UPDATE per source.
        for sid in sources:
            fields_ = {"last_event_at": now}
            if sid in last_cursor:
                fields_["cursor"] = last_cursor[sid]
            ChatSource.objects.filter(pk=sid).update(**fields_)
    return result
