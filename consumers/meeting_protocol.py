"""Schemas of every frame on the meeting sockets (docs/protocol.md, "Meetings").

Two channels share the general wire format of consumers/base.py:
- ``meeting`` (``/ws/meeting/<join code>/``): participants, no account.
- ``meeting-host`` (``/ws/host/<meeting id>/``): staff and the "host" group.
Tests validate every server frame against these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from polls import services as lim  # the limits of a question's fields

from .protocol import Ack, Error, ServerFrame, validate_frame


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- participant -> server ------------------------------------------------------------------
class Join(_Frame):
    nickname: str = Field(min_length=1, max_length=64)


class Resume(_Frame):
    token: str = Field(min_length=8, max_length=128)


class Vote(_Frame):
    question_id: int = Field(gt=0)
    choice_id: int = Field(gt=0)


class Rate(_Frame):
    question_id: int = Field(gt=0)
    value: int


class AddWord(_Frame):
    question_id: int = Field(gt=0)
    word: str = Field(min_length=1, max_length=200)


class SubmitFlag(_Frame):
    code: str = Field(min_length=1, max_length=300)


class Empty(_Frame):
    pass


# --- host -> server -------------------------------------------------------------------------
class Goto(_Frame):
    question_id: int = Field(gt=0)


class Reorder(_Frame):
    order: list[int] = Field(min_length=1, max_length=1000)


class ChoiceEdit(_Frame):
    """One choice of ``question.update``: ``id`` keeps (and edits) an existing choice; without
    it the choice is new."""

    id: int | None = Field(default=None, gt=0)
    text: str = Field(min_length=1, max_length=lim.CHOICE_TEXT_MAX)
    correct: bool = False


class QuestionUpdate(_Frame):
    """Edit a question (polls.services.update_question: the rules). Only the fields sent change;
    ``timer_seconds: null`` removes the timer. ``kind`` never changes (sending another is
    ``invalid``). Answer settings (choices; word-cloud and rating settings) are frozen once the
    question has answers (``conflict``)."""

    question_id: int = Field(gt=0)
    kind: Literal["text", "poll", "quiz", "wordcloud", "rating"] | None = None
    text: str | None = Field(default=None, min_length=1, max_length=lim.QUESTION_TEXT_MAX)
    description: str | None = Field(default=None, max_length=lim.DESCRIPTION_MAX)
    timer_seconds: int | None = Field(default=None, ge=lim.TIMER_MIN, le=lim.TIMER_MAX)
    choices: list[ChoiceEdit] | None = Field(
        default=None, min_length=lim.CHOICES_MIN, max_length=lim.CHOICES_MAX
    )
    max_words: int | None = Field(default=None, ge=lim.MAX_WORDS_MIN, le=lim.MAX_WORDS_MAX)
    min_word_length: int | None = Field(
        default=None, ge=lim.WORD_LENGTH_MIN, le=lim.WORD_LENGTH_MAX
    )
    max_word_length: int | None = Field(
        default=None, ge=lim.WORD_LENGTH_MIN, le=lim.WORD_LENGTH_MAX
    )
    blocked_words: str | None = Field(default=None, max_length=lim.BLOCKED_WORDS_MAX)
    rating_max: int | None = Field(default=None, ge=lim.RATING_MAX_MIN, le=lim.RATING_MAX_MAX)

    def changes(self) -> dict:
        """The fields the client sent (an explicit null included), without question_id."""
        return self.model_dump(exclude={"question_id"}, exclude_unset=True)


class QuestionDelete(_Frame):
    question_id: int = Field(gt=0)


# --- server -> client -----------------------------------------------------------------------
class MeetingInfo(BaseModel):
    """``meeting`` of the state object (polls.serializers.meeting_info)."""

    model_config = ConfigDict(extra="forbid")
    id: int
    title: str
    description_html: str
    state: Literal["before", "waiting", "ongoing", "results", "scoreboard", "after"]
    version: int
    # The start/end window (polls/window.py): ISO 8601 with offset, or null (no limit that side).
    starts_at: AwareDatetime | None
    ends_at: AwareDatetime | None
    scoring_mode: Literal["classic", "timed"]
    allow_vote_change: bool
    chat_prefix: str
    flag_command: str
    flag_prefix: str


class HostMeetingInfo(MeetingInfo):
    join_code: str
    controller: str | None


class _State(ServerFrame):
    meeting: MeetingInfo
    question: dict | None
    position: dict
    results: dict | None
    scoreboard: list[dict] | None


class ParticipantHello(_State):
    type: Literal["hello"]
    protocol: int
    channel: Literal["meeting"]
    meeting_id: int


class MeetingState(_State):
    type: Literal["meeting.state"]


class _HostState(_State):
    meeting: HostMeetingInfo
    plan: list[dict]
    participants: int
    flags: list[dict]


class HostHello(_HostState):
    type: Literal["hello"]
    protocol: int
    channel: Literal["meeting-host"]
    user: str
    role: Literal["control", "view"]
    chat: list[dict]


class HostState(_HostState):
    type: Literal["host.state"]


class Results(ServerFrame):
    type: Literal["results"]
    meeting_id: int
    question_id: int | None
    results: dict | None
    participants: int
    scoreboard: list[dict]


class Control(ServerFrame):
    type: Literal["control"]
    controller: str | None


class FlagCaptured(ServerFrame):
    type: Literal["flag.captured"]
    captures: list[dict]


class ChatMessages(ServerFrame):
    type: Literal["chat.messages"]
    messages: list[dict]


class ChatVotes(ServerFrame):
    type: Literal["chat.votes"]
    accepted: int
    refused: int


PARTICIPANT_FRAMES = {"hello": ParticipantHello, "meeting.state": MeetingState}
HOST_FRAMES = {
    "hello": HostHello,
    "host.state": HostState,
    "results": Results,
    "control": Control,
    "flag.captured": FlagCaptured,
    "chat.messages": ChatMessages,
    "chat.votes": ChatVotes,
}
COMMON = {"ack": Ack, "error": Error}


def validate_meeting_frame(frame: dict, channel: str = "meeting") -> ServerFrame:
    """Raise if ``frame`` is not a documented frame of that meeting channel."""
    table = {**COMMON, **(PARTICIPANT_FRAMES if channel == "meeting" else HOST_FRAMES)}
    return validate_frame(table, frame, channel)
