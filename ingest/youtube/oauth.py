"""Google OAuth for YouTube: the web redirect flow, encrypted token storage, automatic refresh.

The out-of-band "copy this code" flow is blocked by Google, so the user is redirected to Google
and back to this server's own callback (``ingest:youtube-callback``). Tokens live in
``PlatformAccount.credentials`` (EncryptedJSONField). google-auth refreshes the access token on
expiry or a 401; ``save_refreshed`` writes the new one back; a refresh Google refuses (revoked
or expired refresh token) marks the account ``needs_reconnect`` so the UI says "reconnect YouTube".
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import google.oauth2.credentials
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Platform, PlatformAccount
from .client import READ_SCOPE, WRITE_SCOPE, NeedsReconnect, YouTubeClient

log = logging.getLogger(__name__)


class OAuthError(Exception):
    """The OAuth exchange failed; the message is safe to show to the user."""


def oauth_configured() -> bool:
    return bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET)


def authorization_url(state: str, redirect_uri: str, *, write: bool = True) -> str:
    params = {
        "client_id": settings.GOOGLE_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": WRITE_SCOPE if write else READ_SCOPE,
        "access_type": "offline",  # we need a refresh token
        "prompt": "consent",  # ... every time, also on reconnect
        "include_granted_scopes": "true",
        "state": state,
    }
    return f"{settings.GOOGLE_AUTH_URL}?{urlencode(params)}"


def exchange_code(code: str, redirect_uri: str) -> dict:
    """Trade the authorization code for tokens at GOOGLE_TOKEN_URL (blocking; sync views)."""
    try:
        response = requests.post(
            settings.GOOGLE_TOKEN_URL,
            data={
                "code": code,
                "client_id": settings.GOOGLE_CLIENT_ID,
                "client_secret": settings.GOOGLE_CLIENT_SECRET,
                "redirect_uri": redirect_uri,
                "grant_type": "authorization_code",
            },
            timeout=settings.YOUTUBE_HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise OAuthError(f"could not reach Google's token endpoint: {exc}") from exc
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code != 200 or "access_token" not in data:
        detail = (
            data.get("error_description") or data.get("error") or f"HTTP {response.status_code}"
        )
        raise OAuthError(f"Google did not accept the authorization: {detail}")
    return data


def credentials_from(stored: dict) -> google.oauth2.credentials.Credentials:
    """google-auth credentials for a stored token (refreshable at GOOGLE_TOKEN_URL)."""
    expiry = stored.get("expiry")
    if expiry:
        # google-auth compares naive UTC datetimes.
        expiry = datetime.fromisoformat(expiry).astimezone(UTC).replace(tzinfo=None)
    return google.oauth2.credentials.Credentials(
        token=stored.get("token"),
        refresh_token=stored.get("refresh_token"),
        token_uri=settings.GOOGLE_TOKEN_URL,
        client_id=settings.GOOGLE_CLIENT_ID,
        client_secret=settings.GOOGLE_CLIENT_SECRET,
        scopes=stored.get("scopes") or None,
        expiry=expiry,
    )


def _expiry_iso(creds) -> str | None:
    if creds.expiry is None:
        return None
    return creds.expiry.replace(tzinfo=UTC).isoformat()


def connect_account(tokens: dict, user=None) -> PlatformAccount:
    """Create or update the PlatformAccount for the channel these tokens belong to."""
    scopes = (tokens.get("scope") or "").split()
    expiry = timezone.now() + timedelta(seconds=int(tokens.get("expires_in") or 3600))
    creds = google.oauth2.credentials.Credentials(
        token=tokens["access_token"],
        refresh_token=tokens.get("refresh_token"),
        token_uri=settings.GOOGLE_TOKEN_URL,
        client_id=settings.GOOGLE_CLIENT_ID,
        client_secret=settings.GOOGLE_CLIENT_SECRET,
    )
    client = YouTubeClient(credentials=creds)
    channel = client.my_channel()
    from .quota import charge

    charge("channels.list")
    if not channel:
        raise OAuthError("this Google account has no YouTube channel")
    snippet = channel.get("snippet") or {}
    with transaction.atomic():
        account = (
            PlatformAccount.objects.select_for_update()
            .filter(platform=Platform.YOUTUBE, account_id=channel["id"])
            .first()
        ) or PlatformAccount(platform=Platform.YOUTUBE, account_id=channel["id"])
        old = account.credentials or {}
        refresh_token = tokens.get("refresh_token") or old.get("refresh_token")
        if not refresh_token:
            raise OAuthError(
                "Google sent no refresh token; remove Chorus's access at "
                "myaccount.google.com/permissions and connect again"
            )
        account.credentials = {
            "token": tokens["access_token"],
            "refresh_token": refresh_token,
            "expiry": expiry.isoformat(),
            "scopes": scopes,
        }
        account.scopes = scopes
        account.login = str(snippet.get("customUrl") or "")[:128]
        account.display_name = str(snippet.get("title") or "")[:256]
        account.expires_at = expiry
        account.validated_at = timezone.now()
        account.status = PlatformAccount.Status.OK
        account.status_reason = ""
        if user is not None and account.created_by_id is None:
            account.created_by = user
        account.save()
    return account


def save_refreshed(account_id: int, creds) -> None:
    """Store a token google-auth refreshed (keeps the refresh token; encrypted at rest)."""
    with transaction.atomic():
        account = PlatformAccount.objects.select_for_update().filter(pk=account_id).first()
        if account is None:
            return
        stored = dict(account.credentials or {})
        stored["token"] = creds.token
        stored["expiry"] = _expiry_iso(creds)
        if creds.refresh_token:
            stored["refresh_token"] = creds.refresh_token
        account.credentials = stored
        account.expires_at = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None
        account.validated_at = timezone.now()
        if account.status != PlatformAccount.Status.OK:
            account.status = PlatformAccount.Status.OK
            account.status_reason = ""
        account.save()


def mark_needs_reconnect(account_id: int, reason: str) -> None:
    PlatformAccount.objects.filter(pk=account_id).update(
        status=PlatformAccount.Status.NEEDS_RECONNECT,
        status_reason=f"Reconnect YouTube: {reason}"[:2000],
        updated_at=timezone.now(),
    )


def pick_account(account_id: int | None) -> PlatformAccount | None:
    """The source's own account, else the first connected YouTube account."""
    qs = PlatformAccount.objects.filter(platform=Platform.YOUTUBE)
    if account_id:
        return qs.filter(pk=account_id).first()
    return qs.filter(status=PlatformAccount.Status.OK).order_by("pk").first()


def client_kwargs(account_id: int | None = None, *, require_oauth: bool = False) -> dict:
    """What to build a YouTubeClient with (DB only, fast): OAuth credentials of the account,
    else YOUTUBE_API_KEY for public reads. Raises NeedsReconnect when neither is usable."""
    account = pick_account(account_id)
    if account is not None and account.status == PlatformAccount.Status.OK:
        return {
            "credentials": credentials_from(account.credentials or {}),
            "account_id": account.pk,
        }
    if settings.YOUTUBE_API_KEY and not require_oauth:
        return {"api_key": settings.YOUTUBE_API_KEY}
    if account is not None:
        raise NeedsReconnect(
            f"the YouTube account {account} needs to be reconnected "
            f"({account.status_reason or 'its token was revoked'})"
        )
    raise NeedsReconnect(
        "no YouTube account connected"
        + ("" if require_oauth else " and no YOUTUBE_API_KEY set")
        + ": connect one at /youtube/"
    )


def client_for(account_id: int | None = None, *, require_oauth: bool = False) -> YouTubeClient:
    """A client for an account (OAuth), else YOUTUBE_API_KEY for public reads (blocking)."""
    return YouTubeClient(**client_kwargs(account_id, require_oauth=require_oauth))


def persist_if_refreshed(client: YouTubeClient, known_token: str | None) -> str | None:
    """Save the access token if google-auth refreshed it since ``known_token``; return it."""
    creds = client.credentials
    if creds is None or client.account_id is None:
        return known_token
    if creds.token and creds.token != known_token:
        save_refreshed(client.account_id, creds)
        log.info("refreshed the YouTube access token of account %s", client.account_id)
    return creds.token
