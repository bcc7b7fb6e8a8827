"""Keyword triggers and clip file names: pure functions (seed 003, done right).

- ``KeywordMatcher``: case-insensitive keywords, whole word or substring, one compiled regex.
- ``Debouncer``: a cooldown per trigger AND a global debounce, so a flood of the same keyword
  saves the replay once.
- ``clip_filename``: ``{author}_{keyword}_{YYYY-MM-DD_HH-MM-SS}.{ext}``, safe on Linux, macOS and
  Windows; ``unique_path`` avoids collisions.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class KeywordMatcher:
    def __init__(self, keywords: Iterable[str], whole_word: bool = True):
        words = sorted(
            {k.strip().casefold() for k in keywords if k and k.strip()}, key=len, reverse=True
        )
        self.keywords = words
        if not words:
            self._re = None
            return
        body = "|".join(re.escape(w) for w in words)
        # \b fails next to non-word characters (e.g. "c++"), so use look-arounds on \w.
        pattern = rf"(?<!\w)(?:{body})(?!\w)" if whole_word else f"(?:{body})"
        self._re = re.compile(pattern, re.IGNORECASE)

    def match(self, text: str) -> str | None:
        """The keyword found in ``text`` (case-folded), or None."""
        if self._re is None or not text:
            return None
        m = self._re.search(text)
        return m.group(0).casefold() if m else None


@dataclass
class Debouncer:
    """``allow(trigger)`` is True when the trigger may fire now; it then starts both timers."""

    global_seconds: float = 0.0
    clock: Callable[[], float] = time.monotonic
    last_global: float | None = None
    last_by_trigger: dict[object, float] = field(default_factory=dict)

    def allow(self, trigger: object, cooldown: float) -> bool:
        now = self.clock()
        if self.last_global is not None and now - self.last_global < self.global_seconds:
            return False
        last = self.last_by_trigger.get(trigger)
        if last is not None and now - last < cooldown:
            return False
        self.last_global = now
        self.last_by_trigger[trigger] = now
        return True


_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]+')


def sanitize_component(value: str, fallback: str = "unknown", max_len: int = 60) -> str:
    """One file-name part that is valid on every OS (keeps non-ASCII letters)."""
    value = unicodedata.normalize("NFC", value or "")
    value = _UNSAFE.sub("_", value)
    value = re.sub(r"\s+", "-", value.strip())
    value = value.strip(". ")  # Windows forbids trailing dots/spaces
    value = value[:max_len].rstrip(". ")
    if not value or value.upper() in _WINDOWS_RESERVED:
        value = f"{fallback}" if not value else f"_{value}"
    return value


def clip_filename(author: str, keyword: str, when: datetime, ext: str) -> str:
    ext = sanitize_component(ext.lstrip("."), "mkv", 10)
    stamp = when.strftime("%Y-%m-%d_%H-%M-%S")
    return f"{sanitize_component(author, 'viewer')}_{sanitize_component(keyword, 'keyword')}_{stamp}.{ext}"


def unique_path(directory: Path, filename: str) -> Path:
    """``directory/filename``, or ``name-2.ext``, ``name-3.ext``... if taken."""
    candidate = directory / filename
    stem, suffix = candidate.stem, candidate.suffix
    n = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{n}{suffix}"
        n += 1
    return candidate
