"""HTTP API (django-ninja): OpenAPI schema at /api/openapi.json, docs at /api/docs.

Every endpoint is documented with a curl example in docs/api.md. Views stay thin: reads go through
ingest.selectors, writes through ingest.services (which record who/when and publish live events),
file exports through ingest.exports. Errors are always JSON ``{"detail": "..."}``.
"""

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.html import escape
from ninja import NinjaAPI, Path, Query, Schema
from ninja.errors import AuthenticationError, ValidationError
from ninja.openapi.docs import Swagger
from pydantic import ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from . import exports
from .auth import any_user_auth, moderator_auth
from .models import ChatMessage, ChatSource
from .permissions import is_moderator
from .selectors import (
    MAX_LIMIT,
    FilterError,
    display_messages,
    message_queryset,
    moderation_queryset,
    public_source,
    published_messages,
)
from .serializers import source_dict
from .services import ServiceError, reorder_display, set_display_rotation, update_message

log = logging.getLogger(__name__)


class LocalSwagger(Swagger):
    """Swagger UI from ninja's bundled static files (/static/ninja/...), never from a CDN."""

    def render_page(self, request, api, **kwargs):
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": True,
        }
        return render(request, self.template, context)


api = NinjaAPI(
    title="Chorus API",
    version="1",
    urls_namespace="api",
    description="Live chat moderation, display management, public feeds, exports and health. "
    "Authenticate with `Authorization: Bearer <key>` (`manage.py create_api_token USER`) or a "
    "logged-in session (unsafe methods need the CSRF token). See docs/api.md.",
    auth=moderator_auth(),
    docs=LocalSwagger(settings={"persistAuthorization": True}),
)


# --- errors: always {"detail": "..."} ---------------------------------------------------------
def _error(request, status: int, detail: str, **extra) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


def _field_name(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "body", "form", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "request"


FRIENDLY = {"limit": f"limit must be a whole number from 1 to {MAX_LIMIT}"}


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors = []
    for err in exc.errors:
        loc = err.get("loc", ())
        name = _field_name(loc)
        msg = err.get("msg", "invalid value")
        msg = FRIENDLY.get(name, msg)
        got = err.get("input")
        if loc and loc[0] == "query" and name in request.GET:
            got = request.GET[name]
        elif loc and loc[0] == "path" and request.resolver_match:
            got = request.resolver_match.kwargs.get(name, got)
        if got is not None and not isinstance(got, dict | list):
            msg = f"{msg} (got {got!r})"
        errors.append({"field": name, "message": msg})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return _error(request, 400, detail, errors=errors)


@api.exception_handler(SuspiciousOperation)
def _suspicious(request, exc: SuspiciousOperation):
    """E.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many form fields."""
    return _error(request, 400, f"request refused: {exc}")


@api.exception_handler(FilterError)
def _filter_error(request, exc: FilterError):
    return _error(request, 400, str(exc))


SERVICE_STATUS = {"not_found": 404, "invalid": 400, "removed_on_platform": 409}


@api.exception_handler(ServiceError)
def _service_error(request, exc: ServiceError):
    return _error(request, SERVICE_STATUS.get(exc.code, 400), exc.message, code=exc.code)


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc: AuthenticationError):
    detail = exc.message
    if detail == "Unauthorized":
        detail = (
            "authentication required: send 'Authorization: Bearer <key>' "
            "(python manage.py create_api_token USER) or log in"
        )
    response = _error(request, 401, detail)
    response["WWW-Authenticate"] = 'Bearer realm="chorus"'
    return response


class Error(Schema):
    detail: str


ERRORS = {400: Error, 401: Error, 403: Error}


# --- request helpers ----------------------------------------------------------------------------
def parse_since(value: str | None) -> datetime | None:
    """ISO 8601; a naive value is read in the server's TIME_ZONE (as seed 000 did)."""
    if value in (None, ""):
        return None
    text = value.strip()
    # An unencoded "+01:00" in a query string arrives as " 01:00".
    text = re.sub(r"(T[\d:.]+) (\d{2}(?::?\d{2})?)$", r"\1+\2", text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(
            f"since must be an ISO 8601 date-time such as 2026-11-01T12:00:00Z (got {value!r})"
        ) from None
    try:
        if dt.tzinfo is None:
            dt = timezone.make_aware(dt)
        dt.astimezone(UTC)  # the database compares in UTC
    except (OverflowError, ValueError):
        raise FilterError(f"since is out of range (got {value!r})") from None
    return dt


def parse_cursor(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not DIGITS.fullmatch(value) or int(value) < 1 or len(value) > 18:
        raise FilterError(
            f"cursor must be a positive whole number: the X-Next-Cursor of the previous page "
            f"(got {value!r})"
        )
    return int(value)


MAX_ID = 2**63 - 1  # the largest primary key a database column holds
DIGITS = re.compile(r"[0-9]+")


def clean_text(name: str, value):
    """Reject what a database cannot store or compare (NUL bytes); PostgreSQL would 500."""
    if isinstance(value, str) and "\x00" in value:
        raise FilterError(f"{name} must not contain NUL characters")
    return value


def clean_source(value: str | None) -> str | None:
    """A source id (digits) or identifier; an id too large for the database is no source."""
    clean_text("source", value)
    if value and value.isdigit():
        if not DIGITS.fullmatch(value):
            raise FilterError(f"source must be an id (digits 0-9) or an identifier (got {value!r})")
        if int(value) > MAX_ID:
            raise FilterError(f"source id {value} is too large")
    return value


class CleanSchema(Schema):
    """Strings with NUL characters are a 400, not a database error."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value, info):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def request_data(request: HttpRequest) -> dict:
    """The body as a dict, from JSON or from a form (urlencoded or multipart)."""
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):
        if not request.body.strip():
            return {}
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise FilterError("the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise FilterError("the JSON body must be an object, e.g. {\"note\": \"...\"}")
        return data
    return {k: (v if len(v) > 1 else v[0]) for k, v in request.POST.lists()}


def parse_body(schema: type[Schema], data: dict):
    """Validate body fields; errors become the same 400 as bad query parameters."""
    try:
        return schema.model_validate(data)
    except PydanticValidationError as exc:
        errors = [
            {"loc": ("body", *e["loc"]), "msg": e["msg"], "input": e.get("input")}
            for e in exc.errors(include_url=False)
        ]
        raise ValidationError(errors) from None


def body_doc(properties: dict, required: list[str] | None = None) -> dict:
    """OpenAPI: the same fields accepted as JSON or as a form."""
    schema = {"type": "object", "properties": properties, "required": required or []}
    return {
        "requestBody": {
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
            "required": bool(required),
        }
    }


def not_found(request: HttpRequest, detail: str) -> HttpResponse:
    """404, with a hint when the same path with a trailing slash is an endpoint."""
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name not in (None, "public-feed-slash", "api-404"):
            detail = f"{detail}; did you mean {request.path}/ (with a trailing slash)?"
    return _error(request, 404, detail)


# --- schemas (OpenAPI; the views return dicts from ingest.serializers) --------------------------
DateTime = str


class Out(Schema):
    model_config = ConfigDict(extra="allow")


class AuthorOut(Out):
    id: int
    platform_user_id: str
    login: str
    display_name: str
    avatar_url: str
    roles: list = []
    badges: list = []


class MessageOut(Out):
    id: int
    platform: str
    source_id: int
    session_id: int | None
    platform_message_id: str
    kind: str
    author: AuthorOut | None
    text: str
    fragments: list
    amount: str | None
    currency: str
    amount_display: str
    reply_to: str
    sent_at: DateTime
    received_at: DateTime
    edited_at: DateTime | None
    status: str
    note: str
    display_selected: bool
    pinned: bool
    display_order: int | None
    reviewed_by: str | None
    reviewed_at: DateTime | None
    platform_state: str
    removed_at: DateTime | None


class ApiMessageOut(MessageOut):
    message: str = Field(description="seed-000 alias of text")
    author_name: str | None = Field(description="seed-000: the author's display name")
    author_channel_id: str | None = Field(description="seed-000: the author's platform user id")
    published_at: DateTime = Field(description="seed-000 alias of sent_at")
    video_id: str | None = Field(
        description="seed-000: the YouTube video id of the source, else the live session's id"
    )


class MarkSentIn(CleanSchema):
    note: str | None = Field(default=None, max_length=4000)


class ReorderIn(Schema):
    order: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(max_length=10000)


class ReorderOut(Schema):
    status: Literal["ok"]
    order: list[int]


class RotationOut(Schema):
    status: Literal["ok"]
    seconds: int
    sources: list[int]


class MeOut(Schema):
    username: str
    is_staff: bool
    is_moderator: bool
    groups: list[str]
    auth: Literal["token", "session"]
    token_prefix: str | None = None


class FeedAuthorOut(Schema):
    name: str
    avatar_url: str
    title: str = ""


class FeedMessageOut(Schema):
    id: int
    kind: str
    text: str
    fragments: list
    html: str = ""
    images: list = []
    author: FeedAuthorOut | None
    amount_display: str
    sent_at: DateTime


class FeedOut(Schema):
    id: int
    platform: str
    identifier: str
    headline: str
    description: str
    display_rotation_seconds: int
    messages: list[FeedMessageOut]


class SourceHealthOut(Schema):
    id: int
    platform: str
    identifier: str
    name: str
    enabled: bool
    status: str
    status_reason: str
    status_changed_at: DateTime | None
    last_event_at: DateTime | None
    worker: str
    health: Literal["ok", "degraded", "failed", "disabled"]


class HealthOut(Out):
    status: Literal["ok", "degraded", "failed"]
    checked_at: DateTime
    checks: dict[str, str]
    sources: list[SourceHealthOut] = []


# --- who am I -----------------------------------------------------------------------------------
@api.get("/me/", response={200: MeOut, 401: Error}, auth=any_user_auth(), tags=["auth"])
def me(request):
    """Who the token or session belongs to, and whether it may moderate."""
    user = request.auth
    token = getattr(request, "api_token", None)
    return {
        "username": user.get_username(),
        "is_staff": user.is_staff,
        "is_moderator": is_moderator(user),
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "auth": "token" if token else "session",
        "token_prefix": token.prefix if token else None,
    }


# --- messages -----------------------------------------------------------------------------------
class MessageFilters(CleanSchema):
    status: str | None = Field(None, description="new, reviewed, sent, ignored (comma-separated)")
    platform: str | None = Field(None, description="demo, twitch, youtube, tiktok, slack")
    source: str | None = Field(None, description="source id or identifier")
    author: str | None = Field(None, description="login or display name contains")
    text: str | None = Field(None, description="text contains")
    since: str | None = Field(None, description="ISO 8601, e.g. 2026-11-01T12:00:00Z")
    video_id: str | None = Field(None, description="YouTube video id or live session id")

    def selector_kwargs(self) -> dict:
        data = self.model_dump(exclude_none=True)
        data["since"] = parse_since(data.get("since"))
        clean_source(data.get("source"))
        return data


@api.get(
    "/messages/",
    response={200: list[ApiMessageOut], **ERRORS},
    tags=["messages"],
    summary="List messages (newest first), paginated by cursor",
)
def list_messages(
    request,
    response: HttpResponse,
    filters: Query[MessageFilters],
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description=f"1..{MAX_LIMIT}"),
    cursor: str | None = Query(None, description="X-Next-Cursor of the previous page"),
):
    """A JSON list. When more messages match, the next page is in the ``Link: <...>; rel="next"``
    and ``X-Next-Cursor`` headers (pass it back as ``cursor``)."""
    qs = message_queryset(**filters.selector_kwargs(), before_id=parse_cursor(cursor))
    rows = list(exports.with_api_relations(qs)[: limit + 1])
    page = rows[:limit]
    if len(rows) > limit:
        next_cursor = page[-1].pk
        query = request.GET.copy()
        query["cursor"] = str(next_cursor)
        url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        response["Link"] = f'<{url}>; rel="next"'
        response["X-Next-Cursor"] = str(next_cursor)
    return [exports.api_message_dict(m) for m in page]


@api.post(
    "/messages/{int:message_id}/mark-sent/",
    response={200: ApiMessageOut, 404: Error, **ERRORS},
    tags=["messages"],
    summary="Mark a message as sent (optional note)",
    openapi_extra=body_doc({"note": {"type": "string", "maxLength": 4000}}),
)
def mark_sent(request, message_id: int = Path(..., ge=1, le=MAX_ID)):
    """Sets status ``sent``; records who and when (reviewed_by, MessageAction via "api") and
    tells every moderation dashboard (``message.updated``)."""
    data = parse_body(MarkSentIn, request_data(request))
    changes = {"status": "sent"}
    if data.note:
        changes["note"] = data.note
    update_message(user=request.auth, message_id=message_id, changes=changes, via="api")
    msg = exports.with_api_relations(ChatMessage.objects.filter(pk=message_id)).get()
    return exports.api_message_dict(msg)


# --- display manager (seed 000) -------------------------------------------------------------------
@api.get(
    "/manage/messages/", response={200: list[MessageOut], **ERRORS}, tags=["display"]
)
def manage_messages(request, meeting: int | None = None):
    """Messages selected for display, pinned first, then by ``display_order``.

    With ``meeting``: only the messages of that meeting's chat sources (its display manager)."""
    if meeting is None:
        return display_messages()
    from polls.models import Meeting

    if not Meeting.objects.filter(pk=meeting).exists():
        raise ServiceError("not_found", f"no meeting {meeting}")
    return display_messages(meeting_id=meeting)


@api.post(
    "/manage/reorder/",
    response={200: ReorderOut, **ERRORS},
    tags=["display"],
    openapi_extra=body_doc(
        {"order": {"type": "array", "items": {"type": "integer"}}}, required=["order"]
    ),
)
def manage_reorder(request):
    """Body ``{"order": [id, ...]}``: every id must be selected for display."""
    data = request_data(request)
    if isinstance(data.get("order"), str):  # form: order=3,1,2
        data["order"] = [p.strip() for p in data["order"].split(",") if p.strip()]
    order = parse_body(ReorderIn, data).order
    return {"status": "ok", "order": reorder_display(user=request.auth, order=order, via="api")}


@api.post(
    "/manage/update_rotation/",
    response={200: RotationOut, 404: Error, **ERRORS},
    tags=["display"],
    openapi_extra=body_doc(
        {
            "seconds": {"type": "integer", "minimum": 1},
            "source": {"type": "string"},
            "meeting": {"type": "integer"},
        },
        required=["seconds"],
    ),
)
def manage_update_rotation(request):
    """Seconds each message stays on the display.

    Seed 000 set it "for every stream at once": without ``meeting`` or ``source`` it applies to
    every meeting's display (the overlays) and every source. ``meeting`` limits it to one
    meeting's display; ``source`` to one source."""
    data = request_data(request)
    seconds = data.get("seconds")
    if isinstance(seconds, str) and re.fullmatch(r"\s*-?\d+\s*", seconds):
        seconds = int(seconds)
    if seconds is None or seconds == "":
        raise FilterError("seconds is required: a whole number of seconds, e.g. 15")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise FilterError(f"seconds must be a whole number (got {seconds!r})")
    source = data.get("source")
    if source is not None:
        source = clean_source(str(source))
    meeting = data.get("meeting")
    if meeting not in (None, ""):
        if not re.fullmatch(r"\s*\d+\s*", str(meeting)):
            raise FilterError(f"meeting must be a meeting id (got {meeting!r})")
        meeting = int(meeting)
    else:
        meeting = None
    ids = set_display_rotation(
        user=request.auth, seconds=seconds, source=source, meeting=meeting
    )
    return {"status": "ok", "seconds": seconds, "sources": ids}


# --- exports ------------------------------------------------------------------------------------
Format = Literal["csv", "json"]


@api.get(
    "/export/messages.{fmt}",
    response={200: None, **ERRORS},
    tags=["exports"],
    summary="Export messages as CSV or JSON (streamed, oldest first)",
)
def export_messages(request, fmt: Format, filters: Query[MessageFilters]):
    """Same filters as ``GET /api/messages/``, every matching row (no limit)."""
    qs = message_queryset(**filters.selector_kwargs())
    return exports.export_messages(request, qs, fmt)


class ModerationFilters(CleanSchema):
    platform: str | None = None
    source: str | None = Field(None, description="source id or identifier")
    kind: str | None = Field(None, description="deletion, ban, timeout, unban, clear")
    since: str | None = Field(None, description="ISO 8601 (occurred_at)")


@api.get(
    "/export/moderation-events.{fmt}",
    response={200: None, **ERRORS},
    tags=["exports"],
    summary="Export platform moderation events as CSV or JSON (streamed, oldest first)",
)
def export_moderation_events(request, fmt: Format, filters: Query[ModerationFilters]):
    data = filters.model_dump(exclude_none=True)
    data["since"] = parse_since(data.get("since"))
    clean_source(data.get("source"))
    return exports.export_moderation(request, moderation_queryset(**data), fmt)


# --- health -------------------------------------------------------------------------------------
@dataclass
class HealthPart:
    """One contributor's report. ``status``: ok | degraded | failed. ``data`` goes at ``key``."""

    key: str
    status: str
    data: Any = None
    extra: dict = field(default_factory=dict)


HEALTH_RANK = {"ok": 0, "degraded": 1, "failed": 2}
SOURCE_HEALTH = {
    ChatSource.Status.FAILED: "failed",
    ChatSource.Status.RETRYING: "degraded",
    ChatSource.Status.CONNECTING: "degraded",
}


def sources_health() -> HealthPart:
    """Enabled sources: failed -> failed; retrying/connecting -> degraded; others ok."""
    rows, worst = [], "ok"
    for src in ChatSource.objects.all():
        row = source_dict(src)
        row["health"] = SOURCE_HEALTH.get(src.status, "ok") if src.enabled else "disabled"
        if src.enabled and HEALTH_RANK[row["health"]] > HEALTH_RANK[worst]:
            worst = row["health"]
        rows.append(row)
    return HealthPart("sources", worst, rows)


# Other features append callables returning a HealthPart (e.g. platform quotas).
health_contributors: list[Callable[[], HealthPart]] = [sources_health]


def register_health_contributor(fn: Callable[[], HealthPart]) -> Callable[[], HealthPart]:
    if fn not in health_contributors:
        health_contributors.append(fn)
    return fn


@api.get(
    "/health/", auth=None, response={200: HealthOut, 503: HealthOut}, tags=["health"]
)
def health(request):
    """200 unless some check failed (e.g. an enabled source is ``failed``), then 503."""
    body: dict = {"status": "ok", "checked_at": timezone.now().isoformat(), "checks": {}}
    for contributor in health_contributors:
        name = getattr(contributor, "__name__", "check").removesuffix("_health")
        try:
            part = contributor()
        except Exception as exc:
            log.exception("health check %s failed", name)
            part = HealthPart(name, "failed", extra={f"{name}_error": type(exc).__name__})
        body["checks"][part.key] = part.status
        if part.data is not None:
            body[part.key] = part.data
        body.update(part.extra)
        if HEALTH_RANK.get(part.status, 2) > HEALTH_RANK[body["status"]]:
            body["status"] = part.status if part.status in HEALTH_RANK else "failed"
    status = 503 if body["status"] == "failed" else 200
    return api.create_response(request, body, status=status)


# --- public feeds (seed 004): routed LAST so they never shadow the routes above ----------------
def _etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def feed_response(request, source: ChatSource | None, limit: int, missing: str) -> HttpResponse:
    if source is None:
        return not_found(request, missing)
    messages = []
    for m in published_messages(source, limit):
        author = m.author
        extra = m.extra if isinstance(m.extra, dict) else {}
        author_out = None
        if author:
            author_out = {
                "name": author.display_name or author.login,
                "avatar_url": author.avatar_url,
            }
            if extra.get("author_title"):  # Slack profile title (seed 004's front end shows it)
                author_out["title"] = extra["author_title"]
        messages.append(
            {
                "id": m.pk,
                "kind": m.kind,
                "text": m.text,
                "fragments": m.fragments,
                # Safe HTML: Slack mrkdwn rendered and sanitized at ingest, else the escaped text.
                "html": extra.get("html") or escape(m.text),
                "images": [
                    {k: i[k] for k in ("url", "width", "height") if k in i}
                    for i in extra.get("images") or []
                    if isinstance(i, dict) and i.get("status") == "ready"
                ],
                "author": author_out,
                "amount_display": m.amount_display,
                "sent_at": m.sent_at.isoformat(),
            }
        )
    body = {
        "id": source.pk,
        "platform": source.platform,
        "identifier": source.identifier,
        "headline": source.headline or str(source),
        "description": source.description,
        "display_rotation_seconds": source.display_rotation_seconds,
        "messages": messages,
    }
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(content).hexdigest()[:40] + '"'
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(content, content_type="application/json")
    response["ETag"] = etag
    max_age = int(getattr(settings, "PUBLIC_FEED_MAX_AGE", 5))
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


FEED_RESPONSES = {200: FeedOut, 304: None, 400: Error, 404: Error}


@api.get("/feeds/{int:source_id}/", auth=None, response=FEED_RESPONSES, tags=["public"])
def public_feed_by_id(
    request,
    source_id: int = Path(..., ge=1, le=MAX_ID),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
):
    """Published messages of a public source (status sent, still visible), newest first."""
    return feed_response(
        request, public_source(pk=source_id), limit, f"no public feed with id {source_id}"
    )


@api.get(
    "/{identifier}",
    auth=None,
    response=FEED_RESPONSES,
    tags=["public"],
    url_name="public-feed",
    summary="Public feed by source identifier (seed 004: /api/<Slack channel id>)",
)
def public_feed(request, identifier: str, limit: int = Query(50, ge=1, le=MAX_LIMIT)):
    clean_text("identifier", identifier)
    return feed_response(
        request,
        public_source(identifier=identifier),
        limit,
        f"no public feed named {identifier!r}",
    )


@api.get(
    "/{identifier}/",
    auth=None,
    response=FEED_RESPONSES,
    tags=["public"],
    url_name="public-feed-slash",
    include_in_schema=False,
)
def public_feed_slash(request, identifier: str, limit: int = Query(50, ge=1, le=MAX_LIMIT)):
    return public_feed(request, identifier, limit)


@api.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "/{path:rest}",
    auth=None,
    include_in_schema=False,
    url_name="api-404",
)
def api_404(request, rest: str):
    return not_found(request, f"no API endpoint at {request.path} (see /api/docs)")


__all__ = ["api", "HealthPart", "register_health_contributor"]
