"""YouTube Live: API client, message mapping, quota budget, OAuth and the send/moderate service.

The ingest adapter is ingest/adapters/youtube.py; docs in docs/platforms/youtube.md.
"""


def youtube_health() -> dict:
    """Health contributor for GET /api/health/: quota use and projection, accounts, sources."""
    from .quota import youtube_health as _health

    return _health()
