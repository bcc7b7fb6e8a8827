"""Meeting sockets: participants (no account, identified by a resume token) and host dashboards.

Thin: rules live in polls/services.py and polls/state.py; batching and throttling in polls/live.py.
"""

from __future__ import annotations

from channels.consumer import get_handler_name
from django.utils import timezone

from ingest.permissions import HOST_GROUP
from polls import ending, flag_guard, live, services
from polls.aio import db as database_sync_to_async
from polls.models import Meeting
from polls.serializers import host_state, public_state

from .base import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    CommandError,
    FrameConsumer,
    RelayedConsumer,
    command,
    user_has_role,
)
from .meeting_protocol import (
    AddWord,
    Empty,
    Goto,
    Join,
    QuestionDelete,
    QuestionUpdate,
    Rate,
    Reorder,
    Resume,
    SubmitFlag,
    Vote,
)

CHAT_IN_HELLO = 50


def _service(fn):
    async def call(*args, **kwargs):
        try:
            return await database_sync_to_async(fn)(*args, **kwargs)
        except services.MeetingOver as exc:
            # The window ended and no timer has ended the meeting yet: end it now (lazily).
            await ending.end_if_over(exc.meeting_id)
            raise CommandError(exc.code, exc.message) from exc
        except services.ServiceError as exc:
            raise CommandError(exc.code, exc.message) from exc

    return call


OUTCOME_ERRORS = {
    "duplicate": ("duplicate", "you already answered this question"),
    "closed": ("closed", "this question is not open for answers"),
    "invalid": ("invalid", "this answer does not fit the question"),
    "not_found": ("not_found", "no such question in this meeting"),
    "limit": ("limit", "you have added the maximum number of words"),
    "too_short": ("too_short", "this word is too short"),
    "too_long": ("too_long", "this word is too long"),
    "blocked": ("blocked", "this word is not allowed"),
    "internal": ("internal", "the server could not record your answer"),
}


class _NoConnectionChurn:
    """Channels' default ``dispatch`` hops to the sync thread to ``close_old_connections()``
    before EVERY incoming frame; with CONN_MAX_AGE=0 that closed and reopened the database
    connection per vote and queued a thread hop per frame behind the vote writes (the main cost
    of a vote storm). These consumers reach the database only through polls.aio.db, which keeps
    the connection and drops it after a connection error."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


# join code -> meeting id (codes are unique and never change); a crowd scanning the same QR code
# shares one lookup per few seconds.
_code_cache: dict[str, tuple[int, float]] = {}
CODE_CACHE_SECONDS = 5.0


def _meeting_for_code(code: str):
    import time

    from polls.models import normalize_join_code

    key = normalize_join_code(code)
    hit = _code_cache.get(key)
    now = time.monotonic()
    if hit and now - hit[1] < CODE_CACHE_SECONDS:
        return hit[0]
    meeting = services.find_meeting_by_code(key)
    if meeting is None:
        return None
    _code_cache[key] = (meeting.pk, now)
    return meeting.pk


class ParticipantConsumer(_NoConnectionChurn, RelayedConsumer):
    """Participants come in crowds and only listen to their meeting's public group: the process
    relays it to them (RelayedConsumer), so a socket costs no channel-layer receive."""

    channel = "meeting"

    async def authorize(self):
        code = self.scope["url_route"]["kwargs"]["code"]
        meeting_id = await database_sync_to_async(_meeting_for_code)(code)
        if meeting_id is None:
            return CLOSE_NOT_FOUND
        self.meeting_id = meeting_id
        self.participant_id = None
        return True

    def relay_groups(self):
        return [live.participants_group(self.meeting_id)]

    async def hello(self):
        await self.listen()  # first, then read the state: nothing in between is lost
        state = await database_sync_to_async(_public)(self.meeting_id)
        live.hub().ensure_timer(self.meeting_id, state)
        ending.ensure(self.meeting_id, state)
        return {"meeting_id": self.meeting_id, **state}

    async def is_participant(self) -> bool:
        return self.participant_id is not None

    def _not_yet_identified(self) -> None:
        # One identity per connection: a second join would be a fresh participant with fresh
        # per-participant limits (flags) on the same socket.
        if self.participant_id is not None:
            raise CommandError("conflict", "this connection has already joined")

    @command("join", Join)
    async def on_join(self, frame: Join):
        self._not_yet_identified()
        p, token = await _service(services.join)(self.meeting_id, frame.nickname)
        self.participant_id = p.pk
        live.touch(self.meeting_id)
        me = {"id": p.pk, "nickname": p.nickname, "platform": p.platform, "score": 0, "rank": None}
        return {"token": token, "me": me}

    @command("resume", Resume)
    async def on_resume(self, frame: Resume):
        self._not_yet_identified()
        meeting = await database_sync_to_async(Meeting.objects.get)(pk=self.meeting_id)
        p = await database_sync_to_async(services.resume)(meeting, frame.token)
        if p is None:
            raise CommandError("unknown_token", "this device is not known here; join again")
        self.participant_id = p.pk
        return {"me": await _service(services.me)(p.pk)}

    async def _meet_answer(self, kind, question_id, entry):
        outcome = await live.hub().submit(kind, self.meeting_id, question_id, entry)
        if outcome in (services.OK, services.CHANGED):
            return {"result": outcome}
        if outcome in (services.NOT_STARTED_OUTCOME, services.ENDED_OUTCOME):
            if outcome == services.ENDED_OUTCOME:
                await ending.end_if_over(self.meeting_id)
            raise CommandError(
                *await database_sync_to_async(services.window_message)(self.meeting_id)
            )
        if kind == "word" and outcome == services.DUPLICATE:
            raise CommandError("duplicate", "you already added this word")
        raise CommandError(*OUTCOME_ERRORS.get(outcome, ("invalid", outcome)))

    @command("vote", Vote, permission="is_participant")
    async def on_vote(self, frame: Vote):
        entry = services.Answer(self.participant_id, choice_id=frame.choice_id, at=timezone.now())
        return await self._meet_answer("answer", frame.question_id, entry)

    @command("rate", Rate, permission="is_participant")
    async def on_rate(self, frame: Rate):
        entry = services.Answer(self.participant_id, value=frame.value, at=timezone.now())
        return await self._meet_answer("answer", frame.question_id, entry)

    @command("word", AddWord, permission="is_participant")
    async def on_word(self, frame: AddWord):
        return await self._meet_answer("word", frame.question_id, (self.participant_id, frame.word))

    @command("flag", SubmitFlag, permission="is_participant")
    async def on_flag(self, frame: SubmitFlag):
        address = (self.scope.get("client") or [None])[0]
        if await database_sync_to_async(flag_guard.blocked)(self.meeting_id, address):
            raise CommandError(
                "rate_limited", "too many wrong flags from your network; try again in a minute"
            )
        try:
            result = await _service(services.check_flag)(
                self.meeting_id, self.participant_id, frame.code
            )
        except CommandError as exc:
            if exc.code == "wrong":
                await database_sync_to_async(flag_guard.record_wrong)(self.meeting_id, address)
            raise
        await live.publish_captures(self.meeting_id, [result])
        return {
            "flag": result["flag"],
            "points": result["points"],
            "first_blood": result["first_blood"],
        }

    @command("me", Empty, permission="is_participant")
    async def on_me(self, frame: Empty):
        return {"me": await _service(services.me)(self.participant_id)}

    @command("ping", Empty)
    async def on_ping(self, frame: Empty):
        return {"pong": True}


_hello_cache: dict[int, tuple[int, float, dict]] = {}
HELLO_CACHE_SECONDS = 0.5


def _public(meeting_id: int) -> dict:
    """The public state for a hello. A crowd joining at once (QR on screen) shares one rendering
    per meeting version for half a second; any state change bumps the version."""
    import time

    from django.db import connection

    # Raw on purpose: this runs once per connecting participant; the ORM's query building cost
    # more than the query itself in a crowd.
    with connection.cursor() as cur:
        cur.execute("SELECT version FROM polls_meeting WHERE id = %s", [meeting_id])
        row = cur.fetchone()
    version = row[0] if row else None
    cached = _hello_cache.get(meeting_id)
    now = time.monotonic()
    if cached and cached[0] == version and now - cached[1] < HELLO_CACHE_SECONDS:
        return cached[2]
    m = Meeting.objects.select_related("current_question").get(pk=meeting_id)
    state = public_state(m)
    _hello_cache[meeting_id] = (m.version, now, state)
    return state


def _host_hello(meeting_id: int, user_id: int) -> dict:
    from ingest.models import ChatMessage
    from ingest.serializers import message_dict

    role = "control" if services.claim_control_if_free(meeting_id, user_id) else "view"
    m = Meeting.objects.select_related("current_question", "controller").get(pk=meeting_id)
    chat = [
        message_dict(msg, author=msg.author)
        for msg in ChatMessage.objects.filter(source__in=m.sources.all())
        .select_related("author", "reviewed_by")
        .order_by("-id")[:CHAT_IN_HELLO]
    ]
    return {"role": role, "chat": list(reversed(chat)), **host_state(m)}


class HostConsumer(_NoConnectionChurn, FrameConsumer):
    channel = "meeting-host"

    async def authorize(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHORIZED
        if not await self.is_host():
            return False
        self.meeting_id = self.scope["url_route"]["kwargs"]["meeting_id"]
        exists = await database_sync_to_async(Meeting.objects.filter(pk=self.meeting_id).exists)()
        return True if exists else CLOSE_NOT_FOUND

    async def groups_for(self):
        return [live.host_group(self.meeting_id)]

    async def hello(self):
        user = self.scope["user"]
        state = await database_sync_to_async(_host_hello)(self.meeting_id, user.pk)
        live.hub().ensure_timer(self.meeting_id, state)
        ending.ensure(self.meeting_id, state)
        return {"user": user.get_username(), **state}

    # Permissions, fresh from the database on every command.
    async def is_host(self) -> bool:
        user = self.scope.get("user")
        return await user_has_role(getattr(user, "pk", None), HOST_GROUP)

    async def can_control(self) -> bool:
        if not await self.is_host():
            return False
        return await database_sync_to_async(
            Meeting.objects.filter(pk=self.meeting_id, controller_id=self.scope["user"].pk).exists
        )()

    async def _meet_command(self, name: str, question_id: int | None = None):
        await _service(services.apply_command)(self.meeting_id, name, question_id)
        state = await live.publish_state(self.meeting_id)
        return {"state": state["meeting"]["state"]}

    @command("control.take", Empty, permission="is_host")
    async def on_control_take(self, frame: Empty):
        user = self.scope["user"]
        await database_sync_to_async(services.take_control)(self.meeting_id, user.pk)
        await live.publish(
            live.host_group(self.meeting_id), {"type": "control", "controller": user.get_username()}
        )
        return {"role": "control"}

    @command("meeting.start", Empty, permission="can_control")
    async def on_meeting_start(self, frame):
        return await self._meet_command("start")

    @command("meeting.end", Empty, permission="can_control")
    async def on_meeting_end(self, frame):
        return await self._meet_command("end")

    @command("question.next", Empty, permission="can_control")
    async def on_question_next(self, frame):
        return await self._meet_command("next")

    @command("question.previous", Empty, permission="can_control")
    async def on_question_previous(self, frame):
        return await self._meet_command("previous")

    @command("question.goto", Goto, permission="can_control")
    async def on_question_goto(self, frame: Goto):
        return await self._meet_command("goto", frame.question_id)

    @command("question.close", Empty, permission="can_control")
    async def on_question_close(self, frame):
        return await self._meet_command("close")

    @command("question.reopen", Empty, permission="can_control")
    async def on_question_reopen(self, frame):
        return await self._meet_command("reopen")

    @command("show.results", Empty, permission="can_control")
    async def on_show_results(self, frame):
        return await self._meet_command("results")

    @command("show.scoreboard", Empty, permission="can_control")
    async def on_show_scoreboard(self, frame):
        return await self._meet_command("scoreboard")

    @command("plan.reorder", Reorder, permission="can_control")
    async def on_plan_reorder(self, frame: Reorder):
        await _service(services.reorder_plan)(self.meeting_id, frame.order)
        await live.publish_state(self.meeting_id)
        return {}

    @command("question.update", QuestionUpdate, permission="can_control")
    async def on_question_update(self, frame: QuestionUpdate):
        await _service(services.update_question)(
            self.meeting_id, frame.question_id, **frame.changes()
        )
        await live.publish_state(self.meeting_id)
        return {"question_id": frame.question_id}

    @command("question.delete", QuestionDelete, permission="can_control")
    async def on_question_delete(self, frame: QuestionDelete):
        result = await _service(services.delete_question)(self.meeting_id, frame.question_id)
        await live.publish_state(self.meeting_id)
        return result

    @command("state.get", Empty, permission="is_host")
    async def on_state_get(self, frame):
        m = await database_sync_to_async(
            Meeting.objects.select_related("current_question", "controller").get
        )(pk=self.meeting_id)
        return {"state": await database_sync_to_async(host_state)(m)}

    @command("ping", Empty)
    async def on_ping(self, frame: Empty):
        return {"pong": True}


__all__ = ["HostConsumer", "ParticipantConsumer"]
