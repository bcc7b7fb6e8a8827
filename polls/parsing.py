"""Parsing what people type: chat commands, choice tokens, ratings, word-cloud words, flags.

Plain functions, no database. Chat text is hostile: these functions only ever return
normalized strings/ids; nothing here is rendered.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from django.utils.text import slugify

LETTERS = string.ascii_uppercase


class Rejected(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChatCommand:
    kind: str  # "answer" | "flag"
    arg: str


def parse_chat_command(text: str, prefix: str = "#", flag_command: str = "!flag"):
    """``#B`` / ``#1`` / ``#yes`` / ``#word`` -> answer; ``!flag CODE`` -> flag; else None.

    Only the first whitespace-separated token counts, so ``#B because...`` votes B."""
    text = (text or "").strip()
    if not text:
        return None
    if flag_command:
        head, _, rest = text.partition(" ")
        if head.casefold() == flag_command.casefold():
            code = rest.strip().split()
            return ChatCommand("flag", code[0]) if code else None
    if prefix and text.startswith(prefix):
        token = text[len(prefix) :].split(maxsplit=1)
        if token:
            return ChatCommand("answer", token[0])
    return None


def choice_token(token: str, index: int) -> str:
    """The chat token of a choice: its own, or A, B, C... by position (0-based index)."""
    if token:
        return token
    if index < len(LETTERS):
        return LETTERS[index]
    return str(index + 1)


def match_choice(raw: str, choices: list[tuple[int, str, str]]) -> int | None:
    """Find the choice meant by ``raw``: its token, its 1-based number, or a slug of its text.

    ``choices`` are (id, token, text) in plan order. Case-insensitive."""
    wanted = raw.strip().casefold()
    if not wanted:
        return None
    for i, (cid, token, _text) in enumerate(choices):
        if choice_token(token, i).casefold() == wanted:
            return cid
    if wanted.isdigit():
        n = int(wanted)
        if 1 <= n <= len(choices):
            return choices[n - 1][0]
    wanted_slug = slugify(wanted)
    if wanted_slug:
        for cid, _token, text in choices:
            if slugify(text) == wanted_slug:
                return cid
    return None


def parse_rating(raw, maximum: int) -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise Rejected("invalid", f"a rating is a whole number from 1 to {maximum}") from None
    if not 1 <= value <= maximum:
        raise Rejected("invalid", f"a rating is a whole number from 1 to {maximum}")
    return value


_EDGE_PUNCT = "".join(c for c in string.punctuation) + "«»“”‘’¡¿…"


def blocked_set(blocked_words: str) -> set[str]:
    return {
        normalize_text(w)
        for w in re.split(r"[,\n]", blocked_words or "")
        if normalize_text(w)
    }


def normalize_text(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw or "")
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")  # control chars
    text = " ".join(text.split()).strip(_EDGE_PUNCT + " ")
    return text.casefold()


def normalize_word(raw: str, *, min_length=1, max_length=30, blocked: set[str] = frozenset()):
    """Case-folded, NFKC, trimmed word-cloud entry, or Rejected with a clear reason."""
    word = normalize_text(raw)
    if not word:
        raise Rejected("invalid", "the word is empty")
    if len(word) < min_length:
        raise Rejected("too_short", f"words need at least {min_length} characters")
    if len(word) > max_length:
        raise Rejected("too_long", f"words have at most {max_length} characters")
    if word in blocked or any(part in blocked for part in re.split(r"[\s\-_]+", word)):
        raise Rejected("blocked", "this word is not allowed")
    return word


def strip_flag_wrapper(raw: str, prefix: str) -> str:
    """``PREFIX{code}`` -> ``code`` (prefix case-insensitive); a bare code is returned as is."""
    code = (raw or "").strip()
    if prefix:
        m = re.fullmatch(re.escape(prefix) + r"\{(.*)\}", code, flags=re.IGNORECASE | re.DOTALL)
        if m:
            return m.group(1).strip()
    return code
