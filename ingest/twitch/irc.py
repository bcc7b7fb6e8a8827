"""Twitch IRC over websocket: our own parser (IRCv3 tags) and a small client.

Parsing is a pure function (``parse_line``); a websocket frame may carry several lines
(``split_frame``). The client logs in (anonymously as ``justinfan<n>`` unless given a token),
requests tags + commands, joins channels, answers PING, sends its own PING when the server is
silent, and raises ``IrcReconnect`` when the server asks for it (RECONNECT) or the socket drops, so
the caller reconnects and re-joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import websockets

log = logging.getLogger(__name__)

ANONYMOUS_PASS = "SCHMOOPIIE"
_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


class IrcParseError(ValueError):
    """A line that is not valid IRC."""


class IrcReconnect(Exception):
    """The connection must be re-established (RECONNECT, socket closed, server silent)."""


class IrcLoginFailed(Exception):
    """The server refused our credentials (NOTICE Login authentication failed)."""


def unescape_tag(value: str) -> str:
    """IRCv3 tag value unescaping: ``\\s`` space, ``\\:`` ``;``, ``\\\\``, ``\\r``, ``\\n``."""
    if "\\" not in value:
        return value
    out = []
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if ch == "\\":
            if i + 1 < n:
                nxt = value[i + 1]
                out.append(_ESCAPES.get(nxt, nxt))
                i += 2
                continue
            i += 1  # a trailing lone backslash is dropped
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def escape_tag(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\:")
        .replace(" ", "\\s")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
    )


@dataclass
class IrcMessage:
    raw: str
    command: str
    tags: dict[str, str] = field(default_factory=dict)
    prefix: str = ""
    params: list[str] = field(default_factory=list)

    @property
    def nick(self) -> str:
        """The nick (= Twitch login) from ``nick!user@host``; empty for server prefixes."""
        if "!" in self.prefix:
            return self.prefix.split("!", 1)[0]
        if "@" in self.prefix:
            return self.prefix.split("@", 1)[0]
        return "" if "." in self.prefix else self.prefix

    @property
    def channel(self) -> str:
        """The channel login (without ``#``) for channel commands."""
        for p in self.params[:1]:
            if p.startswith("#"):
                return p[1:].lower()
        return ""

    @property
    def trailing(self) -> str:
        return self.params[-1] if self.params else ""


def parse_line(line: str) -> IrcMessage:
    """Parse one IRC line (without CR LF). Raises ``IrcParseError`` on garbage."""
    raw = line
    line = line.rstrip("\r\n")
    if not line.strip():
        raise IrcParseError("empty line")
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        tag_part, sep, rest = rest[1:].partition(" ")
        if not sep:
            raise IrcParseError("tags without a command")
        for item in tag_part.split(";"):
            if not item:
                continue
            key, _, value = item.partition("=")
            tags[key] = unescape_tag(value)
        rest = rest.lstrip(" ")
    prefix = ""
    if rest.startswith(":"):
        prefix, sep, rest = rest[1:].partition(" ")
        if not sep or not prefix:
            raise IrcParseError("prefix without a command")
        rest = rest.lstrip(" ")
    params: list[str] = []
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        raise IrcParseError("no command")
    words = rest.split()
    if not words:
        raise IrcParseError("no command")
    command = words[0].upper()
    if not (command.isalpha() or (command.isdigit() and len(command) == 3)):
        raise IrcParseError(f"bad command {words[0]!r}")
    params = words[1:]
    if trailing is not None:
        params.append(trailing)
    return IrcMessage(raw=raw, command=command, tags=tags, prefix=prefix, params=params)


def split_frame(frame: str) -> list[str]:
    """The lines of one websocket frame (Twitch batches several, separated by CR LF)."""
    return [ln for ln in frame.replace("\r\n", "\n").split("\n") if ln.strip()]


class IrcConnection:
    """One websocket connection to Twitch IRC, joined to some channels.

    ``async for msg in conn.messages()`` yields parsed messages (PING is answered here; the caller
    sees everything else, including 001/JOIN/ROOMSTATE). Malformed lines are logged with their
    raw text and skipped. Raises ``IrcReconnect`` when the connection must be re-established.
    """

    def __init__(
        self,
        url: str,
        channels: list[str],
        *,
        login: str = "",
        token: str = "",
        idle_timeout: float = 360.0,
        pong_timeout: float = 10.0,
        open_timeout: float = 10.0,
    ):
        self.url = url
        self.channels = [c.lower().lstrip("#") for c in channels]
        self.login = login or f"justinfan{random.randint(10000, 99999)}"  # noqa: S311
        self.token = token
        self.idle_timeout = idle_timeout
        self.pong_timeout = pong_timeout
        self.open_timeout = open_timeout
        self.ws = None
        self.malformed = 0

    async def __aenter__(self) -> IrcConnection:
        try:
            self.ws = await websockets.connect(
                self.url, open_timeout=self.open_timeout, ping_interval=None, max_size=2**22
            )
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            raise IrcReconnect(f"cannot connect to {self.url}: {exc}") from exc
        lines = ["CAP REQ :twitch.tv/tags twitch.tv/commands"]
        if self.token:
            lines.append(f"PASS oauth:{self.token.removeprefix('oauth:')}")
        else:
            lines.append(f"PASS {ANONYMOUS_PASS}")
        lines.append(f"NICK {self.login}")
        lines += [f"JOIN #{c}" for c in self.channels]
        try:
            await self.send_lines(lines)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
            self.ws = None

    async def send_lines(self, lines: list[str]) -> None:
        try:
            for line in lines:
                await self.ws.send(line + "\r\n")
        except websockets.ConnectionClosed as exc:
            raise IrcReconnect(f"connection closed while sending: {exc}") from exc

    async def _recv(self) -> str:
        """The next frame; PINGs the server once when it is silent for idle_timeout."""
        try:
            return await asyncio.wait_for(self.ws.recv(), self.idle_timeout)
        except TimeoutError:
            pass
        except websockets.ConnectionClosed as exc:
            raise IrcReconnect(f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})") from exc
        await self.send_lines(["PING :tmi.twitch.tv"])
        try:
            return await asyncio.wait_for(self.ws.recv(), self.pong_timeout)
        except TimeoutError:
            raise IrcReconnect(
                f"server silent for {self.idle_timeout + self.pong_timeout:.0f} s (no PONG)"
            ) from None
        except websockets.ConnectionClosed as exc:
            raise IrcReconnect("connection closed") from exc

    async def frames(self) -> AsyncIterator[list[IrcMessage]]:
        """Parsed messages, one list per websocket frame (PING answered, garbage skipped)."""
        while True:
            frame = await self._recv()
            if isinstance(frame, bytes):
                frame = frame.decode("utf-8", "replace")
            batch = []
            for line in split_frame(frame):
                try:
                    msg = parse_line(line)
                except IrcParseError as exc:
                    self.malformed += 1
                    log.warning("skipping malformed IRC line (%s): %r", exc, line)
                    continue
                if msg.command == "PING":
                    await self.send_lines([f"PONG :{msg.trailing or 'tmi.twitch.tv'}"])
                    continue
                if msg.command == "RECONNECT":
                    if batch:
                        yield batch
                    raise IrcReconnect("server asked to reconnect (RECONNECT)")
                if msg.command == "NOTICE" and "authentication failed" in msg.trailing.lower():
                    raise IrcLoginFailed(msg.trailing)
                batch.append(msg)
            if batch:
                yield batch
