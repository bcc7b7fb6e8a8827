"""Connect YouTube and add live streams (staff).

- ``GET /youtube/``: connected Google accounts (with a clear "Reconnect YouTube" state when a
  token was revoked), today's quota use with its projection, and the YouTube streams.
- ``POST /youtube/connect/`` (CSRF): remember a one-use ``state`` and redirect to Google's consent
  page; ``access=read`` asks for youtube.readonly instead of youtube.force-ssl.
- ``GET /youtube/callback/``: check ``state``, exchange the code at GOOGLE_TOKEN_URL, store the
  tokens encrypted (PlatformAccount.credentials).
- ``POST /youtube/streams/`` (CSRF): add a stream by video id or URL (normalized to the id).
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ..models import ChatSource, Platform, PlatformAccount
from ..permissions import require_staff
from . import oauth, quota, signals  # noqa: F401 (signals: URL -> video id on save)
from .client import READ_SCOPE, WRITE_SCOPE, YouTubeError
from .mapping import normalize_video_id

log = logging.getLogger(__name__)
SESSION_KEY = "youtube_oauth_state"


def _staff(request):
    require_staff(request.user, "Only staff can connect YouTube accounts and add streams.")


def redirect_uri(request) -> str:
    return settings.GOOGLE_OAUTH_REDIRECT_URI or request.build_absolute_uri(
        reverse("ingest:youtube_callback")
    )


@login_required
@require_GET
def accounts(request):
    _staff(request)
    return render(
        request,
        "ingest/youtube.html",
        {
            "accounts": PlatformAccount.objects.filter(platform=Platform.YOUTUBE).order_by("pk"),
            "oauth_configured": oauth.oauth_configured(),
            "api_key": bool(settings.YOUTUBE_API_KEY),
            "quota": quota.usage(),
            "sources": ChatSource.objects.filter(platform=Platform.YOUTUBE).select_related(
                "account"
            ),
            "write_scope": WRITE_SCOPE,
            "read_scope": READ_SCOPE,
        },
    )


@login_required
@require_POST
def connect(request):
    _staff(request)
    if not oauth.oauth_configured():
        messages.error(request, "Set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET first.")
        return redirect("ingest:youtube")
    state = secrets.token_urlsafe(32)
    request.session[SESSION_KEY] = state
    write = request.POST.get("access", "write") != "read"
    return redirect(oauth.authorization_url(state, redirect_uri(request), write=write))


@login_required
@require_GET
def callback(request):
    _staff(request)
    expected = request.session.pop(SESSION_KEY, None)
    state = request.GET.get("state", "")
    if not expected or not secrets.compare_digest(expected, state):
        messages.error(request, "YouTube connection refused: the state does not match. Try again.")
        return redirect("ingest:youtube")
    if request.GET.get("error"):
        messages.error(request, f"Google did not authorize: {request.GET['error']}")
        return redirect("ingest:youtube")
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, "Google sent no authorization code.")
        return redirect("ingest:youtube")
    try:
        tokens = oauth.exchange_code(code, redirect_uri(request))
        account = oauth.connect_account(tokens, user=request.user)
    except (oauth.OAuthError, YouTubeError) as exc:
        messages.error(request, f"Could not connect YouTube: {exc}")
        return redirect("ingest:youtube")
    access = "read and write" if WRITE_SCOPE in account.scopes else "read-only"
    messages.success(request, f"Connected YouTube channel {account.display_name} ({access}).")
    return redirect("ingest:youtube")


@login_required
@require_POST
def add_stream(request):
    _staff(request)
    raw = request.POST.get("video", "").strip()
    if raw.lower() == "mine":
        video_id = "mine"
    else:
        try:
            video_id = normalize_video_id(raw)
        except ValueError as exc:
            messages.error(request, str(exc))
            return redirect("ingest:youtube")
    account = None
    if request.POST.get("account"):
        account = PlatformAccount.objects.filter(
            platform=Platform.YOUTUBE, pk=request.POST["account"]
        ).first()
    source, created = ChatSource.objects.get_or_create(
        platform=Platform.YOUTUBE,
        identifier=video_id,
        defaults={"name": request.POST.get("name", "")[:255], "account": account, "enabled": True},
    )
    if not created and not source.enabled:
        source.enabled = True
        source.save(update_fields=["enabled"])
    messages.success(
        request,
        f"{'Added' if created else 'Already watching'} YouTube stream {video_id}.",
    )
    return redirect("ingest:youtube")


def _register_health() -> None:
    try:
        from .health import register

        register()
    except Exception:  # the API module may not be importable in some management contexts
        log.debug("youtube health contributor not registered", exc_info=True)


_register_health()
