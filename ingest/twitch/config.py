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


def client_id() -> str:
    return settings.TWITCH_CLIENT_ID


def client_secret() -> str:
    return settings.TWITCH_CLIENT_SECRET
