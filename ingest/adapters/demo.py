"""A built-in chat source that needs no credentials: realistic, endless, deterministic.

Event number ``n`` is always the same event (seeded by source id and n), its id is
``demo-<source id>-<n>`` and the cursor is ``n``, so a restarted or failed-over adapter resumes
exactly where storage stopped: no gaps and no duplicates.

Settings (ChatSource.settings): ``rate`` events per second (default 2), ``mix`` "full" (every
event kind) or "plain" (text messages only, for benchmarks), ``max_events`` (stop after n).
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

from ..events import Author, Badge, ChatEvent, Fragment, Kind, SessionInfo
from .base import Adapter, register

PEOPLE = [
    ("1001", "streamhost", "StreamHost", ["broadcaster"], [("broadcaster", "1")]),
    ("1002", "mod_marta", "Mod Marta", ["moderator"], [("moderator", "1")]),
    ("1003", "zoe_k", "Zoë K.", ["subscriber"], [("subscriber", "12")]),
    ("1004", "yamada_taro", "山田太郎", ["subscriber", "vip"], [("vip", "1"), ("subscriber", "3")]),
    ("1005", "lukasz", "Łukasz Żółć", [], []),
    ("1006", "mohammed", "محمد", ["member"], [("member", "6")]),
    ("1007", "anya_v", "Аня В.", [], []),
    ("1008", "priya", "Priya 🌸", ["subscriber"], [("subscriber", "1")]),
    ("1009", "kwame", "Kwame", [], []),
    ("1010", "sofia", "Sofía", ["verified"], [("verified", "1")]),
    ("1011", "chen_wei", "陈伟", [], []),
    ("1012", "troll_account", "troll_account", [], []),
]

LINES = [
    "hello from {place}!",
    "this is great 👏",
    "can you explain that again?",
    "#1",
    "#2",
    "#B",
    "first time here, love the show",
    "PogChamp PogChamp",
    "what's the song?",
    "greetings everyone ❤️",
    "LUL",
    "agree with {name}",
    "¿dónde está la encuesta?",
    "素晴らしい！",
    "question: how do I join the quiz?",
    "<b>not bold</b> & <i>not italic</i>",
    "<img src=x onerror=alert(1)>",
    "gg",
    "!revolution",
    "!score",
    "!top",
]
PLACES = ["Lagos", "Kraków", "Osaka", "Lima", "Cairo", "Pune", "Oslo", "Quito"]
TROLL_LINES = ["BUY FOLLOWERS at spam.example", "you all are terrible", "spam spam spam"]


def _author(rng: random.Random, index: int | None = None) -> Author:
    # One validated Author per person, shared by their events (nothing mutates an event's
    # author): building it per event was a third of make_event's cost at benchmark rates.
    return _person(rng.randrange(len(PEOPLE)) if index is None else index)


@functools.cache
def _person(index: int) -> Author:
    uid, login, name, roles, badges = PEOPLE[index]
    return Author(
        id=uid,
        login=login,
        display_name=name,
        roles=list(roles),
        badges=[Badge(set_id=s, version=v, title=s) for s, v in badges],
        color=f"#{abs(hash(login)) % 0xFFFFFF:06x}",
    )


def make_event(source_id: int, n: int, mix: str = "full") -> ChatEvent:
    """Event number ``n`` of a demo source (pure: the same n gives the same event)."""
    rng = random.Random(f"{source_id}-{n}")
    now = datetime.now(UTC)
    eid = f"demo-{source_id}-{n}"
    base = {"platform": "demo", "id": eid, "sent_at": now, "received_at": now, "cursor": str(n)}
    if mix == "plain":
        text = f"bench message {n} {rng.choice(LINES)}"
        return ChatEvent(kind=Kind.MESSAGE, author=_author(rng), text=text, **base)
    if n == 0:
        return ChatEvent(
            kind=Kind.STREAM_START,
            session=SessionInfo(
                platform_session_id=f"demo-{source_id}", title="Chorus demo stream", viewer_count=42
            ),
            **base,
        )
    roll = rng.random()
    if roll < 0.015 and n > 5:
        target = n - rng.randint(1, 5)
        return ChatEvent(
            kind=Kind.DELETION,
            target_message_id=f"demo-{source_id}-{target}",
            moderator="Mod Marta",
            **base,
        )
    if roll < 0.025:
        return ChatEvent(
            kind=Kind.TIMEOUT,
            author=_author(rng, 11),
            duration_seconds=60,
            moderator="Mod Marta",
            reason="spam",
            **base,
        )
    if roll < 0.03:
        return ChatEvent(
            kind=Kind.BAN,
            author=_author(rng, 11),
            moderator="StreamHost",
            reason="repeated spam",
            **base,
        )
    if roll < 0.035:
        return ChatEvent(kind=Kind.UNBAN, author=_author(rng, 11), moderator="StreamHost", **base)
    if roll < 0.07:
        amount = Decimal(rng.choice(["2", "5", "10", "20", "50"]))
        currency = rng.choice(["USD", "EUR", "JPY"])
        if currency == "JPY":
            amount *= 100
        return ChatEvent(
            kind=Kind.PAID,
            author=_author(rng),
            text=rng.choice(["Thanks for the stream!", "Keep going 💪", "Shout-out to my team"]),
            amount=amount,
            currency=currency,
            amount_display=f"{amount} {currency}",
            extra={"tier": 2},
            **base,
        )
    if roll < 0.085:
        return ChatEvent(
            kind=Kind.MEMBERSHIP,
            author=_author(rng),
            text="became a member",
            extra={"months": rng.randint(1, 24)},
            **base,
        )
    if roll < 0.095:
        return ChatEvent(
            kind=Kind.GIFT,
            author=_author(rng),
            text="gifted 5 memberships",
            extra={"count": 5, "gift": "membership"},
            **base,
        )
    if roll < 0.105:
        return ChatEvent(kind=Kind.FOLLOW, author=_author(rng), text="followed", **base)
    author = _author(rng)
    if author.id == "1012":
        text = rng.choice(TROLL_LINES)
    else:
        text = rng.choice(LINES).format(place=rng.choice(PLACES), name=rng.choice(PEOPLE)[2])
    fragments = []
    if "PogChamp" in text or "LUL" in text:
        for word in text.split(" "):
            if word in ("PogChamp", "LUL"):
                fragments.append(Fragment(type="emote", text=word, emote_id=word.lower()))
            else:
                fragments.append(Fragment(type="text", text=word))
    return ChatEvent(kind=Kind.MESSAGE, author=author, text=text, fragments=fragments, **base)


@register
class DemoAdapter(Adapter):
    platform = "demo"

    async def run(self) -> None:
        rate = float(self.source.settings.get("rate", 2))
        mix = self.source.settings.get("mix", "full")
        max_events = self.source.settings.get("max_events")
        n = int(self.cursor) + 1 if self.cursor else 0
        self.status.connected(f"demo chat at {rate:g} events/s")
        start = time.monotonic()
        emitted = 0
        tick = 0.01 if rate > 100 else min(1 / rate, 0.5)
        while max_events is None or n < int(max_events):
            due = int((time.monotonic() - start) * rate) + 1 - emitted
            for i in range(max(due, 0)):
                if max_events is not None and n >= int(max_events):
                    break
                await self.emit(make_event(self.source.id, n, mix))
                n += 1
                emitted += 1
                if i % 50 == 49:  # after a stall, catch up without freezing the event loop
                    await asyncio.sleep(0)
            await asyncio.sleep(tick)
