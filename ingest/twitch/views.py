"""Connect Twitch: the OAuth authorization code flow, and the page that shows connected accounts.

- ``POST /twitch/connect/`` (staff, CSRF): remember a random ``state`` in the session and redirect
  to Twitch's authorization page.
- ``GET /twitch/callback/``: check ``state`` (one use), exchange the code, validate the token,
  store access + refresh tokens encrypted (PlatformAccount.credentials), link the user's own
  channel source if it exists, and show the accounts page.
- ``GET /twitch/``: whose tokens we hold, their scopes, expiry, last validation, and a clear
  "Reconnect Twitch" state when a token was revoked.
"""

from __future__ import annotations

import logging
import secrets

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ..models import ChatSource, PlatformAccount
from ..permissions import require_staff
from . import config, oauth

log = logging.getLogger(__name__)
SESSION_KEY = "twitch_oauth_state"


def _staff(request):
    require_staff(request.user, "Only staff can connect platform accounts.")


def redirect_uri(request) -> str:
    return settings.TWITCH_REDIRECT_URI or request.build_absolute_uri(
        reverse("ingest:twitch_callback")
    )


@login_required
@require_GET
def accounts(request):
    _staff(request)
    rows = PlatformAccount.objects.filter(platform="twitch").order_by("login")
    return render(
        request,
        "ingest/twitch_accounts.html",
        {
            "accounts": rows,
            "configured": bool(config.client_id() and config.client_secret()),
            "sources": ChatSource.objects.filter(platform="twitch").select_related("account"),
            "scopes": oauth.DEFAULT_SCOPES,
        },
    )


@login_required
@require_POST
def connect(request):
    _staff(request)
    if not (config.client_id() and config.client_secret()):
        messages.error(request, "Set TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET first.")
        return redirect("ingest:twitch_accounts")
    state = secrets.token_urlsafe(32)
    request.session[SESSION_KEY] = state
    return redirect(oauth.authorize_url(state, redirect_uri(request)))


@login_required
@require_GET
def callback(request):
    _staff(request)
    expected = request.session.pop(SESSION_KEY, None)
    state = request.GET.get("state", "")
    if not expected or not secrets.compare_digest(expected, state):
        messages.error(request, "Twitch connection refused: the state does not match. Try again.")
        return redirect("ingest:twitch_accounts")
    if request.GET.get("error"):
        messages.error(
            request,
            f"Twitch did not authorize: {request.GET.get('error_description') or request.GET['error']}",
        )
        return redirect("ingest:twitch_accounts")
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, "Twitch sent no authorization code.")
        return redirect("ingest:twitch_accounts")
    try:
        tokens = async_to_sync(oauth.exchange_code)(code, redirect_uri(request))
        info = async_to_sync(oauth.validate)(tokens["access_token"])
    except oauth.OAuthError as exc:
        messages.error(request, f"Could not connect Twitch: {exc}")
        return redirect("ingest:twitch_accounts")
    if not info or not info.get("user_id"):
        messages.error(request, "Twitch returned a token that does not validate.")
        return redirect("ingest:twitch_accounts")
    info.setdefault("display_name", info.get("login", ""))
    acc = oauth.save_account(user=request.user, tokens=tokens, info=info)
    linked = ChatSource.objects.filter(
        platform="twitch", identifier__iexact=acc.login, account__isnull=True
    ).update(account=acc)
    note = f" Linked to your channel source #{acc.login}." if linked else ""
    messages.success(request, f"Connected Twitch as {acc.login}.{note}")
    return redirect("ingest:twitch_accounts")


def twitch_accounts_health():
    """Health contributor: a Twitch account that needs reconnecting degrades health."""
    from ..api import HealthPart

    rows, worst = [], "ok"
    for acc in PlatformAccount.objects.filter(platform="twitch").order_by("login"):
        rows.append(
            {
                "id": acc.pk,
                "login": acc.login,
                "status": acc.status,
                "status_reason": acc.status_reason,
                "scopes": acc.scopes,
                "expires_at": acc.expires_at.isoformat() if acc.expires_at else None,
                "validated_at": acc.validated_at.isoformat() if acc.validated_at else None,
            }
        )
        if acc.status == PlatformAccount.Status.NEEDS_RECONNECT:
            worst = "degraded"
    return HealthPart("twitch_accounts", worst, rows)


def _register_health() -> None:
    try:
        from ..api import register_health_contributor
    except Exception:  # the API module may not be importable in some management contexts
        log.debug("health contributor not registered", exc_info=True)
        return
    register_health_contributor(twitch_accounts_health)


_register_health()
