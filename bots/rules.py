"""Bot rules as plain functions and small state objects: no I/O, an injectable clock.

- ``TimerRotation``: periodic bots; a timer posts when its interval has passed AND at least
  ``min_lines`` chat lines arrived since the last post (a silent chat is not spammed); several
  timers take turns in order.
- ``CommandGate``: ``!command`` replies with global and per-user cooldowns and a role requirement.
- ``RevolutionCounter``: fires when N DISTINCT viewers call the command within T seconds, then
  cools down.
- ``parse_command``: ``!name args`` with a configurable prefix, aliases resolved by the caller.
- ``is_bot_message``: bot posts carry a marker and never trigger bots themselves.
- ``render_template``: ``{join_url}``-style variables; unknown names stay visible, never crash.
"""

from __future__ import annotations

import re
import string
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

Clock = Callable[[], float]

# Who may use a command, from least to most privileged.
AUDIENCES = ("everyone", "subscribers", "moderators")
_SUBSCRIBER_ROLES = {"subscriber", "member", "vip", "moderator", "broadcaster"}
_MODERATOR_ROLES = {"moderator", "broadcaster"}


def role_allows(audience: str, roles: Iterable[str]) -> bool:
    roles = set(roles)
    if audience == "everyone":
        return True
    if audience == "subscribers":
        return bool(roles & _SUBSCRIBER_ROLES)
    if audience == "moderators":
        return bool(roles & _MODERATOR_ROLES)
    raise ValueError(f"unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: str


_COMMAND_RE = re.compile(r"^\s*(?P<name>[^\s]+)(?:\s+(?P<args>.*))?$", re.S)


def parse_command(text: str, prefix: str = "!") -> ParsedCommand | None:
    """``"!Score  me"`` -> ParsedCommand("score", "me"); None when it is not a command."""
    if not prefix or not text.lstrip().startswith(prefix):
        return None
    m = _COMMAND_RE.match(text.lstrip()[len(prefix) :])
    if not m or not m.group("name"):
        return None
    return ParsedCommand(m.group("name").casefold(), (m.group("args") or "").strip())


def is_bot_message(text: str, marker: str) -> bool:
    return bool(marker) and text.startswith(marker)


class _SafeVars(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def render_template(template: str, variables: dict) -> str:
    """Fill ``{name}`` placeholders; unknown ones are left as typed; braces can be doubled."""
    try:
        return string.Formatter().vformat(template, (), _SafeVars(variables))
    except (ValueError, IndexError, AttributeError):
        return template


@dataclass
class Timer:
    key: str
    interval: float
    min_lines: int = 0


@dataclass
class TimerRotation:
    """Decides which periodic message (if any) to post now.

    The rotation as a whole posts at most once per the due timer's interval; timers take turns
    in order, and a timer whose guard is not met is skipped until the next check.
    """

    timers: list[Timer]
    clock: Clock = time.monotonic
    lines_since_post: int = 0
    last_post_at: float | None = None
    next_index: int = 0
    started_at: float = field(default=0.0)

    def __post_init__(self):
        self.started_at = self.clock()

    def on_chat_line(self, count: int = 1) -> None:
        self.lines_since_post += count

    def due(self) -> Timer | None:
        """The timer to post now, or None. Call ``posted()`` once it has been sent."""
        if not self.timers:
            return None
        now = self.clock()
        timer = self.timers[self.next_index % len(self.timers)]
        since = now - (self.last_post_at if self.last_post_at is not None else self.started_at)
        if since < timer.interval or self.lines_since_post < timer.min_lines:
            return None
        return timer

    def posted(self) -> None:
        self.last_post_at = self.clock()
        self.lines_since_post = 0
        if self.timers:
            self.next_index = (self.next_index + 1) % len(self.timers)


@dataclass
class CommandGate:
    """Cooldowns for one command: global (anyone) and per user."""

    global_cooldown: float = 0.0
    user_cooldown: float = 0.0
    audience: str = "everyone"
    clock: Clock = time.monotonic
    last_global: float | None = None
    last_by_user: dict[str, float] = field(default_factory=dict)

    def check(self, user_key: str, roles: Iterable[str]) -> str | None:
        """None when the command may run now, else the reason it may not."""
        if not role_allows(self.audience, roles):
            return f"only {self.audience} may use this command"
        now = self.clock()
        if self.last_global is not None and now - self.last_global < self.global_cooldown:
            return "cooling down"
        last = self.last_by_user.get(user_key)
        if last is not None and now - last < self.user_cooldown:
            return "cooling down for this user"
        return None

    def used(self, user_key: str) -> None:
        now = self.clock()
        self.last_global = now
        self.last_by_user[user_key] = now
        if len(self.last_by_user) > 10_000:  # bounded memory on huge chats
            horizon = now - self.user_cooldown
            self.last_by_user = {k: t for k, t in self.last_by_user.items() if t >= horizon}


@dataclass
class RevolutionCounter:
    """N distinct viewers within T seconds fire the revolution, then a cooldown."""

    threshold: int
    window: float
    cooldown: float = 0.0
    clock: Clock = time.monotonic
    calls: OrderedDict[str, float] = field(default_factory=OrderedDict)
    fired_at: float | None = None

    def _expire(self, now: float) -> None:
        while self.calls:
            key, at = next(iter(self.calls.items()))
            if now - at <= self.window:
                break
            self.calls.popitem(last=False)

    def cooling_down(self) -> bool:
        return self.fired_at is not None and self.clock() - self.fired_at < self.cooldown

    def count(self) -> int:
        self._expire(self.clock())
        return len(self.calls)

    def call(self, viewer_key: str) -> bool:
        """Record a call; True exactly when this call fires the revolution."""
        now = self.clock()
        if self.cooling_down():
            return False
        self._expire(now)
        self.calls.pop(viewer_key, None)  # the same viewer counts once, at their latest call
        self.calls[viewer_key] = now
        if len(self.calls) >= self.threshold:
            self.calls.clear()
            self.fired_at = now
            return True
        return False
