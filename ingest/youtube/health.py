"""The YouTube part of GET /api/health/ (registered with ingest.api's contributor list)."""

from __future__ import annotations

from .quota import youtube_health


def youtube_health_part():
    """HealthPart "youtube": degraded while the quota is exhausted or an account needs reconnecting."""
    from ..api import HealthPart

    data = youtube_health()
    status = "ok" if data["ok"] else "degraded"
    return HealthPart("youtube", status, data)


def register() -> None:
    from ..api import register_health_contributor

    register_health_contributor(youtube_health_part)
