"""Wrong flag codes counted per client address and meeting, across participants.

Each participant may try 5 wrong codes a minute (polls.services.submit_flag), but identities are
cheap (a new socket and a nickname), so a brute force would spread its guesses over many of
them. This counts the wrong codes of one address (the socket's client IP, as the ASGI server
sees it: behind a proxy, run uvicorn with --proxy-headers) for a meeting in a fixed window, in the
Django cache (Redis in scale-out, so all server processes count together).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache


def _key(meeting_id: int, address: str) -> str:
    return f"flagfail:{meeting_id}:{address}"


def _limit() -> int:
    return settings.FLAG_ATTEMPTS_PER_ADDRESS


def blocked(meeting_id: int, address: str | None) -> bool:
    """True when this address already sent the allowed number of wrong codes in the window."""
    if not _limit() or not address:
        return False
    return (cache.get(_key(meeting_id, address)) or 0) >= _limit()


def record_wrong(meeting_id: int, address: str | None) -> None:
    if not _limit() or not address:
        return
    key = _key(meeting_id, address)
    if cache.add(key, 1, timeout=settings.FLAG_ADDRESS_WINDOW):
        return  # the first wrong code opens the window
    try:
        cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.add(key, 1, timeout=settings.FLAG_ADDRESS_WINDOW)
