"""Twitch OAuth: authorization code flow, token validation and refresh, stored encrypted.

Tokens live in ``PlatformAccount.credentials`` (an EncryptedJSONField):
``{"access_token", "refresh_token", "token_type"}``; ``scopes``, ``expires_at``,
``validated_at``, ``login``, ``display_name`` and ``account_id`` (the Twitch user id) are plain
columns so the UI can show whose token it is.

``AccountTokens`` is what adapters and services use: it hands out a valid access token, validates
at start and hourly (Twitch requires it), refreshes before expiry and on any 401, saves the
refreshed pair, and when the refresh token is revoked marks the account ``needs_reconnect`` and
raises ``TokenRevoked`` (adapters turn that into a FatalAdapterError: slow retry, no hammering).
All HTTP is async (httpx); database access goes through sync_to_async.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlencode

import httpx
from asgiref.sync import sync_to_async
from django.utils import timezone

from . import config

log = logging.getLogger(__name__)

# What "Connect Twitch" asks for: read chat, send chat, delete messages, ban/timeout, see bans in
# your own channel (channel:moderate), and in channels you moderate (channel.moderate v2 needs
# every moderator:read:* scope below).
DEFAULT_SCOPES = [
    "user:read:chat",
    "user:write:chat",
    "moderator:manage:chat_messages",
    "moderator:manage:banned_users",
    "channel:moderate",
    "moderator:read:blocked_terms",
    "moderator:read:chat_settings",
    "moderator:read:unban_requests",
    "moderator:read:warnings",
    "moderator:read:moderators",
    "moderator:read:vips",
]
REFRESH_MARGIN = timedelta(minutes=10)  # refresh this long before expiry
VALIDATE_EVERY = 3600.0


class OAuthError(Exception):
    """Twitch's OAuth endpoint failed (network, 5xx, unexpected answer)."""


class TokenRevoked(OAuthError):
    """The token cannot be refreshed (revoked, password changed, app disconnected)."""


def authorize_url(state: str, redirect_uri: str, scopes: list[str] | None = None) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.client_id(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes or DEFAULT_SCOPES),
            "state": state,
            "force_verify": "true",
        }
    )
    return f"{config.auth_url()}oauth2/authorize?{query}"


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0))


async def _token_request(data: dict) -> dict:
    data = {"client_id": config.client_id(), "client_secret": config.client_secret(), **data}
    try:
        async with _client() as http:
            resp = await http.post(f"{config.auth_url()}oauth2/token", data=data)
    except httpx.HTTPError as exc:
        raise OAuthError(f"cannot reach Twitch OAuth: {exc}") from exc
    if resp.status_code in (400, 401, 403):
        raise TokenRevoked(_message(resp))
    if resp.status_code != 200:
        raise OAuthError(f"Twitch OAuth answered {resp.status_code}: {_message(resp)}")
    return resp.json()


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message") or body.get("error") or body)
    except ValueError:
        return resp.text[:200]


async def exchange_code(code: str, redirect_uri: str) -> dict:
    """Code -> {access_token, refresh_token, expires_in, scope: [...]}."""
    try:
        return await _token_request(
            {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        )
    except TokenRevoked as exc:
        raise OAuthError(f"Twitch refused the authorization code: {exc}") from exc


async def refresh(refresh_token: str) -> dict:
    return await _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})


async def app_token() -> dict:
    """An app access token (client credentials), for Helix reads like GET /streams."""
    return await _token_request({"grant_type": "client_credentials"})


async def validate(access_token: str) -> dict | None:
    """Twitch's /oauth2/validate: the token's owner, scopes, expiry; None when invalid."""
    try:
        async with _client() as http:
            resp = await http.get(
                f"{config.auth_url()}oauth2/validate",
                headers={"Authorization": f"OAuth {access_token}"},
            )
    except httpx.HTTPError as exc:
        raise OAuthError(f"cannot reach Twitch OAuth: {exc}") from exc
    if resp.status_code == 401:
        return None
    if resp.status_code != 200:
        raise OAuthError(f"token validation answered {resp.status_code}: {_message(resp)}")
    return resp.json()


async def revoke(access_token: str) -> None:
    async with _client() as http:
        await http.post(
            f"{config.auth_url()}oauth2/revoke",
            data={"client_id": config.client_id(), "token": access_token},
        )


# --- persistence (sync; call through sync_to_async) ------------------------------------------
def save_account(*, user, tokens: dict, info: dict):
    """Create/update the PlatformAccount of a freshly authorized Twitch user."""
    from ..models import PlatformAccount

    acc, _ = PlatformAccount.objects.get_or_create(platform="twitch", account_id=info["user_id"])
    acc.login = info.get("login", "")
    acc.display_name = info.get("display_name") or info.get("login", "")
    acc.scopes = list(info.get("scopes") or tokens.get("scope") or [])
    acc.credentials = {
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token", ""),
        "token_type": tokens.get("token_type", "bearer"),
    }
    expires_in = info.get("expires_in") or tokens.get("expires_in")
    acc.expires_at = timezone.now() + timedelta(seconds=int(expires_in)) if expires_in else None
    acc.validated_at = timezone.now()
    acc.status = PlatformAccount.Status.OK
    acc.status_reason = ""
    if user is not None and acc.created_by_id is None:
        acc.created_by = user
    acc.save()
    return acc


def _load(account_id: int) -> dict:
    from ..models import PlatformAccount

    acc = PlatformAccount.objects.get(pk=account_id)
    return {
        "user_id": acc.account_id,
        "login": acc.login,
        "access_token": (acc.credentials or {}).get("access_token", ""),
        "refresh_token": (acc.credentials or {}).get("refresh_token", ""),
        "expires_at": acc.expires_at,
        "status": acc.status,
        "scopes": list(acc.scopes or []),
    }


def _store_refreshed(account_id: int, access: str, refresh_token: str, expires_in, scopes) -> None:
    from ..models import PlatformAccount

    acc = PlatformAccount.objects.get(pk=account_id)
    creds = dict(acc.credentials or {})
    creds.update({"access_token": access, "refresh_token": refresh_token or creds.get("refresh_token", "")})
    acc.credentials = creds
    if expires_in:
        acc.expires_at = timezone.now() + timedelta(seconds=int(expires_in))
    if scopes:
        acc.scopes = list(scopes)
    acc.validated_at = timezone.now()
    acc.status = PlatformAccount.Status.OK
    acc.status_reason = ""
    acc.save(
        update_fields=["credentials", "expires_at", "scopes", "validated_at", "status", "status_reason", "updated_at"]
    )


def _store_validated(account_id: int, info: dict) -> None:
    from ..models import PlatformAccount

    fields = {"validated_at": timezone.now(), "scopes": list(info.get("scopes") or [])}
    if info.get("expires_in"):
        fields["expires_at"] = timezone.now() + timedelta(seconds=int(info["expires_in"]))
    if info.get("login"):
        fields["login"] = info["login"]
    PlatformAccount.objects.filter(pk=account_id).update(**fields)


def mark_needs_reconnect(account_id: int, reason: str) -> None:
    from ..models import PlatformAccount

    PlatformAccount.objects.filter(pk=account_id).update(
        status=PlatformAccount.Status.NEEDS_RECONNECT,
        status_reason=f"Reconnect Twitch: {reason}"[:2000],
        updated_at=timezone.now(),
    )


class AccountTokens:
    """A valid access token for one PlatformAccount, validated and refreshed as Twitch requires."""

    def __init__(self, account_id: int):
        self.account_id = account_id
        self.user_id = ""
        self.login = ""
        self.access_token = ""
        self.refresh_token = ""
        self.expires_at = None
        self.scopes: list[str] = []
        self.validated_at: float | None = None  # monotonic
        self.refreshes = 0
        self._lock = asyncio.Lock()
        self.listeners: list[Callable[[str, str], Awaitable[None]]] = []

    async def load(self) -> AccountTokens:
        data = await sync_to_async(_load)(self.account_id)
        self.user_id, self.login = data["user_id"], data["login"]
        self.access_token, self.refresh_token = data["access_token"], data["refresh_token"]
        self.expires_at, self.scopes = data["expires_at"], data["scopes"]
        if data["status"] != "ok":
            raise TokenRevoked(f"the Twitch account {self.login or self.user_id} needs to be reconnected")
        if not self.access_token:
            raise TokenRevoked("no token stored: connect Twitch")
        return self

    async def token(self) -> str:
        """The current access token, refreshed first when it expires within 10 minutes."""
        if self.expires_at is not None and self.expires_at - timezone.now() < REFRESH_MARGIN:
            await self.refresh("expires soon")
        return self.access_token

    async def validate(self) -> dict:
        """Validate now (at start and hourly); refresh when invalid or about to expire."""
        info = await validate(self.access_token)
        if info is None:
            await self.refresh("token rejected by validation")
            info = await validate(self.access_token)
            if info is None:
                await self._revoked("a freshly refreshed token does not validate")
        self.validated_at = time.monotonic()
        self.scopes = list(info.get("scopes") or [])
        if info.get("expires_in") is not None:
            self.expires_at = timezone.now() + timedelta(seconds=int(info["expires_in"]))
        await sync_to_async(_store_validated)(self.account_id, info)
        if self.expires_at is not None and self.expires_at - timezone.now() < REFRESH_MARGIN:
            await self.refresh("expires soon")
        return info

    async def validate_if_due(self, every: float = VALIDATE_EVERY) -> None:
        if self.validated_at is None or time.monotonic() - self.validated_at >= every:
            await self.validate()

    async def refresh(self, reason: str, *, failed_token: str | None = None) -> str:
        async with self._lock:
            if failed_token is not None and failed_token != self.access_token:
                return self.access_token  # someone else refreshed while we waited
            if not self.refresh_token:
                await self._revoked("no refresh token stored")
            log.info("refreshing Twitch token of %s (%s)", self.login or self.user_id, reason)
            used = self.refresh_token
            try:
                data = await refresh(used)
            except TokenRevoked as exc:
                # Another process (or twitchio) may have refreshed with this refresh token a
                # moment ago: take the pair it saved instead of declaring the account dead.
                stored = await sync_to_async(_load)(self.account_id)
                if stored["refresh_token"] and stored["refresh_token"] != used:
                    self.access_token = stored["access_token"]
                    self.refresh_token = stored["refresh_token"]
                    self.expires_at = stored["expires_at"]
                    return self.access_token
                await self._revoked(f"refresh refused: {exc}")
            self.access_token = data["access_token"]
            self.refresh_token = data.get("refresh_token") or self.refresh_token
            if data.get("expires_in"):
                self.expires_at = timezone.now() + timedelta(seconds=int(data["expires_in"]))
            scopes = data.get("scope") or self.scopes
            self.refreshes += 1
            await sync_to_async(_store_refreshed)(
                self.account_id, self.access_token, self.refresh_token, data.get("expires_in"), scopes
            )
        for listener in self.listeners:
            try:
                await listener(self.access_token, self.refresh_token)
            except Exception:
                log.exception("token listener failed")
        return self.access_token

    async def adopt(self, access: str, refresh_token: str, expires_in=None) -> None:
        """A pair refreshed elsewhere (twitchio's own refresh): remember and save it."""
        self.access_token, self.refresh_token = access, refresh_token or self.refresh_token
        if expires_in:
            self.expires_at = timezone.now() + timedelta(seconds=int(expires_in))
        self.refreshes += 1
        await sync_to_async(_store_refreshed)(
            self.account_id, self.access_token, self.refresh_token, expires_in, None
        )

    async def _revoked(self, reason: str):
        await sync_to_async(mark_needs_reconnect)(self.account_id, reason)
        raise TokenRevoked(
            f"the Twitch token of {self.login or self.user_id} was revoked or cannot be refreshed "
            f"({reason}): reconnect Twitch"
        )
