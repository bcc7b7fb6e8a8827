"""Slack mrkdwn -> safe HTML and structured fragments.

Slack sends message text HTML-escaped (``&amp; &lt; &gt;``) with control sequences in angle
brackets: ``<@U123>`` (user), ``<#C123|name>`` (channel), ``<!here>``, ``<https://x|label>`` (link),
``<mailto:a@b|label>``. On top: ``*bold*``, ``_italic_``, ``~strike~``, ``\\`code\\```, triple
backtick blocks. The raw text is stored verbatim; this module renders it for display. Every piece
of text is escaped and the result is sanitized again with nh3 (an allow-list), so hostile input
such as ``<script>`` (which Slack delivers as ``&lt;script&gt;``) shows as text, never as markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import nh3

ALLOWED_TAGS = {"a", "b", "i", "s", "code", "pre", "br", "span"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "span": {"class"}}
URL_SCHEMES = {"http", "https", "mailto"}

_TOKEN = re.compile(r"<([^<>\n]{1,2000})>")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_PRE = re.compile(r"```\n?(.+?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_STYLES = [
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
]
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.I)

UserResolver = Callable[[str], str]


def unescape(text: str) -> str:
    """Slack's three escapes only (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _token(body: str, resolve_user: UserResolver | None) -> tuple[dict, str]:
    """One control sequence -> (fragment, html)."""
    target, _, label = body.partition("|")
    label = unescape(label)
    if target.startswith("@"):
        uid = target[1:]
        name = label or (resolve_user(uid) if resolve_user else "") or uid
        text = "@" + name
        return (
            {"type": "mention", "text": text},
            f'<span class="mention">{html.escape(text)}</span>',
        )
    if target.startswith("#"):
        text = "#" + (label or target[1:])
        return {
            "type": "mention",
            "text": text,
        }, f'<span class="channel">{html.escape(text)}</span>'
    if target.startswith("!"):
        special = target[1:]
        if special.startswith("subteam^"):
            text = label or "@group"
        elif special.startswith("date^"):
            text = label or ""
        else:
            text = label or "@" + special
        return {"type": "text", "text": text}, html.escape(text)
    url = unescape(target)
    text = label or (url[7:] if url.lower().startswith("mailto:") else url)
    if not _SAFE_URL.match(url):  # javascript: and friends: shown as text only
        return {"type": "text", "text": text}, html.escape(text)
    return (
        {"type": "link", "text": text, "url": url},
        f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>',
    )


def render(text: str, resolve_user: UserResolver | None = None) -> tuple[str, list[dict]]:
    """Return ``(safe_html, fragments)`` for raw Slack message text."""
    text = (text or "").replace("\x00", "")
    pieces: list[str] = []  # rendered HTML of tokens, referenced by placeholders
    fragments: list[dict] = []

    def flush_plain(chunk: str):
        if chunk:
            fragments.append({"type": "text", "text": unescape(chunk)})

    def take(match: re.Match) -> str:
        frag, piece = _token(match.group(1), resolve_user)
        pieces.append(piece)
        return f"\x00{len(pieces) - 1}\x00"

    # Fragments, in order.
    pos = 0
    for m in _TOKEN.finditer(text):
        flush_plain(text[pos : m.start()])
        fragments.append(_token(m.group(1), resolve_user)[0])
        pos = m.end()
    flush_plain(text[pos:])

    # HTML: tokens out of the way, then escape everything else, then apply styles.
    body = _TOKEN.sub(take, text)
    body = html.escape(unescape(body), quote=False)

    def code_block(match: re.Match, tag: str) -> str:
        pieces.append(f"<{tag}>{match.group(1)}</{tag}>")
        return f"\x00{len(pieces) - 1}\x00"

    body = _PRE.sub(lambda m: code_block(m, "pre"), body)
    body = _CODE.sub(lambda m: code_block(m, "code"), body)
    for pattern, tag in _STYLES:
        body = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", body)
    body = body.replace("\n", "<br>")
    # Placeholders may nest (a link inside a code span is not a thing in Slack; tokens inside
    # pre blocks are): substitute until none is left.
    for _ in range(3):
        if "\x00" not in body:
            break
        body = _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], body)
    return sanitize(body), [f for f in fragments if f.get("text")]


def sanitize(fragment_html: str) -> str:
    return nh3.clean(
        fragment_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )


def plain_text(text: str, resolve_user: UserResolver | None = None) -> str:
    """What a person reads, without markup (for matching comment prefixes, logs)."""
    _, fragments = render(text, resolve_user)
    return "".join(f["text"] for f in fragments)
