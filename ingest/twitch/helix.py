"""A small async Helix client (httpx): 401 -> refresh -> retry, 429 -> wait for Ratelimit-Reset,
5xx -> backoff. Tokens come from a provider (a user's ``AccountTokens`` or the app token)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from . import config
from .oauth import AccountTokens, app_token

log = logging.getLogger(__name__)


class HelixError(Exception):
    def __init__(self, status: int, message: str, path: str = ""):
        super().__init__(f"Helix {path} answered {status}: {message}")
        self.status = status
        self.message = message
        self.path = path


class HelixUnauthorized(HelixError):
    """Still 401 after a refresh."""


class HelixForbidden(HelixError):
    """The token lacks a scope or the user lacks the role (e.g. not a moderator)."""


class AppTokens:
    """An app access token (client credentials) with the same interface as AccountTokens."""

    def __init__(self):
        self.access_token = ""
        self.user_id = ""

    async def token(self) -> str:
        if not self.access_token:
            self.access_token = (await app_token())["access_token"]
        return self.access_token

    async def refresh(self, reason: str, *, failed_token: str | None = None) -> str:
        self.access_token = ""
        return await self.token()


class Helix:
    def __init__(
        self,
        tokens: AccountTokens | AppTokens,
        *,
        base_url: str | None = None,
        max_retries: int = 5,
        backoff_initial: float = 0.5,
        max_wait: float = 60.0,
    ):
        self.tokens = tokens
        self.base_url = base_url or config.api_url()
        self.max_retries = max_retries
        self.backoff_initial = backoff_initial
        self.max_wait = max_wait
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        self.calls = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Helix:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> dict | None:
        refreshed = False
        failures = 0
        while True:
            token = await self.tokens.token()
            headers = {"Client-Id": config.client_id(), "Authorization": f"Bearer {token}"}
            self.calls += 1
            try:
                resp = await self._http.request(
                    method, self.base_url + path, params=params, json=json, headers=headers
                )
            except httpx.HTTPError as exc:
                failures += 1
                if failures > self.max_retries:
                    raise HelixError(0, f"network error: {exc}", path) from exc
                await asyncio.sleep(self.backoff_initial * 2 ** (failures - 1))
                continue
            status = resp.status_code
            if status == 401 and not refreshed:
                refreshed = True
                await self.tokens.refresh(f"401 from {path}", failed_token=token)
                continue
            if status == 429:
                failures += 1
                if failures > self.max_retries:
                    raise HelixError(status, "rate limited", path)
                await asyncio.sleep(self._reset_wait(resp))
                continue
            if status >= 500:
                failures += 1
                if failures > self.max_retries:
                    raise HelixError(status, _message(resp), path)
                delay = self.backoff_initial * 2 ** (failures - 1)
                log.warning("Helix %s answered %s; retrying in %.1f s", path, status, delay)
                await asyncio.sleep(delay)
                continue
            if status == 401:
                raise HelixUnauthorized(status, _message(resp), path)
            if status == 403:
                raise HelixForbidden(status, _message(resp), path)
            if status >= 400:
                raise HelixError(status, _message(resp), path)
            if status == 204 or not resp.content:
                return None
            return resp.json()

    def _reset_wait(self, resp: httpx.Response) -> float:
        reset = resp.headers.get("Ratelimit-Reset")
        try:
            wait = float(reset) - time.time()
        except (TypeError, ValueError):
            wait = 1.0
        return min(max(wait, 0.05), self.max_wait)

    # --- endpoints ------------------------------------------------------------------------
    async def user(self, *, login: str = "", user_id: str = "") -> dict | None:
        params = {"login": login} if login else {"id": user_id}
        data = await self.request("GET", "users", params=params)
        return (data or {}).get("data", [None])[0] if (data or {}).get("data") else None

    async def stream(self, *, login: str = "", user_id: str = "") -> dict | None:
        """The live stream of a channel, or None when offline."""
        params = {"user_login": login} if login else {"user_id": user_id}
        data = await self.request("GET", "streams", params=params)
        rows = (data or {}).get("data") or []
        return rows[0] if rows else None

    async def send_chat_message(
        self, broadcaster_id: str, sender_id: str, message: str, reply_to: str = ""
    ) -> dict:
        body = {"broadcaster_id": broadcaster_id, "sender_id": sender_id, "message": message}
        if reply_to:
            body["reply_parent_message_id"] = reply_to
        data = await self.request("POST", "chat/messages", json=body)
        return (data or {}).get("data", [{}])[0]

    async def delete_chat_message(self, broadcaster_id: str, moderator_id: str, message_id: str):
        params = {
            "broadcaster_id": broadcaster_id,
            "moderator_id": moderator_id,
            "message_id": message_id,
        }
        await self.request("DELETE", "moderation/chat", params=params)

    async def ban_user(
        self,
        broadcaster_id: str,
        moderator_id: str,
        user_id: str,
        *,
        duration: int | None = None,
        reason: str = "",
    ) -> dict:
        body: dict = {"user_id": user_id}
        if duration:
            body["duration"] = int(duration)
        if reason:
            body["reason"] = reason
        data = await self.request(
            "POST",
            "moderation/bans",
            params={"broadcaster_id": broadcaster_id, "moderator_id": moderator_id},
            json={"data": body},
        )
        return (data or {}).get("data", [{}])[0]

    async def unban_user(self, broadcaster_id: str, moderator_id: str, user_id: str) -> None:
        params = {"broadcaster_id": broadcaster_id, "moderator_id": moderator_id, "user_id": user_id}
        await self.request("DELETE", "moderation/bans", params=params)


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message") or body.get("error") or body)
    except ValueError:
        return resp.text[:200]
