"""Twitch endpoints and app credentials, from settings (each overridable by environment)."""

from __future__ import annotations

from django.conf import settings


def irc_url() -> str:
    return settings.TWITCH_IRC_URL


def eventsub_ws_url() -> str:
    return settings.TWITCH_EVENTSUB_WS_URL


def api_url() -> str:
    """Helix base, always ending with a slash."""
    return settings.TWITCH_API_URL.rstrip("/") + "/"


def auth_url() -> str:
    """id.twitch.tv base, always ending with a slash (``oauth2/...`` is appended)."""
    return settings.TWITCH_AUTH_URL.rstrip("/") + "/"


def emote_image_url(emote_id: str) -> str:
    """Twitch's documented emote image URL (dark theme, 2x), under ``TWITCH_EMOTE_CDN``."""
    from urllib.parse import quote

    base = getattr(settings, "TWITCH_EMOTE_CDN", "") or "https://static-cdn.jtvnw.net/emoticons/v2/"
    return f"{base.rstrip('/')}/{quote(str(emote_id), safe='')}/default/dark/2.0"


def client_id() -> str:
    return settings.TWITCH_CLIENT_ID


def client_secret() -> str:
    return settings.TWITCH_CLIENT_SECRET
