"""``POST /slack/events``: the HTTP Events API endpoint (for servers Slack can reach).

Slack signs every request with the app's signing secret (``X-Slack-Signature``,
``X-Slack-Request-Timestamp``); Bolt verifies it and answers 401 on a bad or stale signature, and
answers the ``url_verification`` challenge. That signature is why this one view is exempt from
Django's CSRF check (Slack cannot send a CSRF token).
"""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .config import Credentials, SlackConfigError, resolve_credentials

log = logging.getLogger(__name__)


_cache: dict = {}
CACHE_SECONDS = 30.0


def http_credentials() -> Credentials:
    """Environment first; else the first Slack source/account holding a signing secret.

    Cached for ``CACHE_SECONDS``: requests do not decrypt every source's credentials."""
    now = time.monotonic()
    env = resolve_credentials()
    hit = _cache.get("creds")
    if hit and hit[0] > now and hit[1] == env:
        return hit[2]
    creds = _lookup_credentials(env)
    _cache["creds"] = (now + CACHE_SECONDS, env, creds)
    return creds


def _lookup_credentials(creds: Credentials) -> Credentials:
    if creds.signing_secret and creds.bot_token:
        return creds
    from ..models import ChatSource, PlatformAccount

    for src in ChatSource.objects.filter(platform="slack").select_related("account").order_by("pk"):
        c = resolve_credentials(src.credentials, src.account.credentials if src.account else None)
        if c.signing_secret and c.bot_token:
            return c
    for acc in PlatformAccount.objects.filter(platform="slack").order_by("pk"):
        c = resolve_credentials(acc.credentials)
        if c.signing_secret and c.bot_token:
            return c
    return creds


@csrf_exempt  # Slack signs its requests; Bolt verifies the signature (bad -> 401).
@require_POST
def events(request: HttpRequest) -> HttpResponse:
    from slack_bolt.adapter.django import SlackRequestHandler

    from .app import get_workspace

    creds = http_credentials()
    if not creds.signing_secret or not creds.bot_token:
        return JsonResponse(
            {
                "detail": "Slack HTTP events are not configured: set SLACK_SIGNING_SECRET and "
                "SLACK_BOT_TOKEN (or store them on a Slack source)"
            },
            status=503,
        )
    try:
        workspace = get_workspace(creds, http=True)
    except SlackConfigError as exc:
        log.error("slack events: %s", exc)
        return JsonResponse({"detail": str(exc)}, status=503)
    return SlackRequestHandler(workspace.app).handle(request)
