"""The meeting state machine, as a pure function over a snapshot of the plan.

States: before -> waiting (lobby) -> ongoing (a question is open) -> results -> scoreboard -> ...
-> after (closing state). The service layer (polls/services.py) persists the result, so a server
restart resumes exactly where the meeting was.

Landing on a question (next / previous / goto): an unasked answerable question is opened
(ongoing); an already closed one shows its results; a text slide is shown (waiting).
Moving past the last question lands on ``after`` - never an error, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import MeetingState as S
from .models import QuestionKind, QuestionStatus

COMMANDS = (
    "start",
    "next",
    "previous",
    "goto",
    "close",
    "reopen",
    "results",
    "scoreboard",
    "end",
)


class TransitionError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Slot:
    kind: str
    status: str

    @property
    def answerable(self) -> bool:
        return self.kind != QuestionKind.TEXT


@dataclass
class Transition:
    state: str
    index: int | None
    # question index -> new status (only the ones that change)
    changes: dict[int, str] = field(default_factory=dict)


def transition(
    state: str, index: int | None, plan: list[Slot], command: str, target: int | None = None
) -> Transition:
    if command not in COMMANDS:
        raise TransitionError("invalid", f"unknown command {command!r}")
    changes: dict[int, str] = {}
    current = plan[index] if index is not None and 0 <= index < len(plan) else None

    def close_current():
        if current is not None and current.status == QuestionStatus.OPEN:
            changes[index] = QuestionStatus.CLOSED

    def land(i: int | None) -> Transition:
        if i is None or i >= len(plan):
            return Transition(S.AFTER, None, changes)
        slot = plan[i]
        if not slot.answerable:
            return Transition(S.WAITING, i, changes)
        status = changes.get(i, slot.status)
        if status == QuestionStatus.CLOSED:
            return Transition(S.RESULTS, i, changes)
        if status == QuestionStatus.PENDING:
            changes[i] = QuestionStatus.OPEN
        return Transition(S.ONGOING, i, changes)

    if command == "start":
        if state != S.BEFORE:
            raise TransitionError("conflict", "the meeting has already started")
        return Transition(S.WAITING, None, changes)
    if command == "end":
        close_current()
        return Transition(S.AFTER, None, changes)
    if command == "next":
        if state == S.AFTER:
            raise TransitionError("conflict", "the plan is finished; use previous or goto")
        close_current()
        return land(0 if index is None else index + 1)
    if command == "previous":
        if state == S.AFTER and index is None:
            if not plan:
                raise TransitionError("conflict", "the plan is empty")
            return land(len(plan) - 1)
        if index is None or index == 0:
            raise TransitionError("conflict", "already at the beginning of the plan")
        close_current()
        return land(index - 1)
    if command == "goto":
        if target is None or not 0 <= target < len(plan):
            raise TransitionError("not_found", "no such question in this meeting")
        if target != index:
            close_current()
        return land(target)

    # The remaining commands act on the current question / current state.
    if state in (S.BEFORE,):
        raise TransitionError("conflict", "start the meeting first")
    if command == "scoreboard":
        close_current()
        return Transition(S.SCOREBOARD, index, changes)
    if current is None:
        raise TransitionError("conflict", "there is no current question")
    if not current.answerable:
        raise TransitionError("conflict", "a text slide takes no answers")
    if command == "close":
        if current.status != QuestionStatus.OPEN:
            raise TransitionError("conflict", "the question is not open")
        close_current()
        return Transition(S.WAITING, index, changes)
    if command == "reopen":
        if current.status == QuestionStatus.OPEN:
            raise TransitionError("conflict", "the question is already open")
        changes[index] = QuestionStatus.OPEN
        return Transition(S.ONGOING, index, changes)
    if command == "results":
        if current.status == QuestionStatus.PENDING:
            raise TransitionError("conflict", "the question has not been asked yet")
        close_current()
        return Transition(S.RESULTS, index, changes)
    raise TransitionError("invalid", f"unknown command {command!r}")  # pragma: no cover
