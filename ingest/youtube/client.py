"""A thin synchronous wrapper around google-api-python-client for the calls Chorus makes.

The official client is synchronous (httplib2): async code runs these methods in a thread
(``asyncio.to_thread``). Every call uses ``execute(num_retries=0)`` so errors reach us and our
own backoff and quota accounting apply. ``HttpError``s are translated into the small hierarchy
below so callers can react by kind (quota, rate limit, chat gone, auth, scope, network).

Endpoints: ``YOUTUBE_API_URL`` (bare origin, e.g. ``http://127.0.0.1:8081/``) overrides the API
host, using the discovery document bundled with the library (no network fetch);
``GOOGLE_TOKEN_URL`` is where access tokens are refreshed.
"""

from __future__ import annotations

import json
import logging
import ssl

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from django.conf import settings
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

log = logging.getLogger(__name__)

WRITE_SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
READ_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"


class YouTubeError(Exception):
    """A YouTube API failure, with Google's reason code when there is one."""

    def __init__(self, message: str, *, reason: str = "", status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.status = status


class QuotaExceeded(YouTubeError):
    """The project's daily quota is spent; nothing works until midnight Pacific."""


class TransientError(YouTubeError):
    """Rate limit, 5xx or a network failure: retry the same call after a backoff."""


class NetworkError(TransientError):
    pass


class ChatUnavailable(YouTubeError):
    """The live chat is gone: ended, not found, or disabled. The session is over."""


class AuthError(YouTubeError):
    """Credentials rejected (after the automatic refresh and retry)."""


class NeedsReconnect(AuthError):
    """The refresh token was revoked or expired: the account must be connected again."""


class ScopeError(YouTubeError):
    """The token lacks the scope for this call (e.g. a read-only connection tried to write)."""


class NotFound(YouTubeError):
    pass


_CHAT_GONE = {
    "liveChatNotFound": "live chat not found",
    "liveChatEnded": "live chat ended",
    "liveChatDisabled": "live chat is disabled for this stream",
    "commentsDisabled": "comments are disabled for this video",
}


def error_reason(exc: HttpError) -> str:
    details = exc.error_details
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return str(details[0].get("reason") or "")
    try:
        data = json.loads(exc.content.decode("utf-8"))
        return str(data["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def classify(exc: HttpError) -> YouTubeError:
    status = exc.status_code
    reason = error_reason(exc)
    message = exc.reason or reason or f"HTTP {status}"
    if reason in ("quotaExceeded", "dailyLimitExceeded"):
        return QuotaExceeded(f"YouTube quota exceeded: {message}", reason=reason, status=status)
    if reason in ("rateLimitExceeded", "userRateLimitExceeded") or status == 429 or status >= 500:
        return TransientError(
            f"YouTube {reason or status}: {message}", reason=reason, status=status
        )
    if reason in _CHAT_GONE:
        return ChatUnavailable(_CHAT_GONE[reason], reason=reason, status=status)
    if reason == "insufficientPermissions" or "insufficient authentication scopes" in message:
        return ScopeError(
            "the connected YouTube account did not grant the youtube.force-ssl scope needed to "
            "send or moderate; reconnect it with write access",
            reason=reason or "insufficientPermissions",
            status=status,
        )
    if status == 401:
        return AuthError(
            f"YouTube rejected the credentials: {message}", reason=reason, status=status
        )
    if status == 400 and "API key not valid" in message:
        return AuthError("YOUTUBE_API_KEY is not valid", reason=reason, status=status)
    if status == 404:
        return NotFound(message, reason=reason, status=status)
    return YouTubeError(f"YouTube error {status} {reason}: {message}", reason=reason, status=status)


def build_service(*, credentials=None, api_key: str = "", timeout: float | None = None):
    """The googleapiclient Resource for YouTube v3, pointed at YOUTUBE_API_URL when set."""
    http = httplib2.Http(timeout=timeout or settings.YOUTUBE_HTTP_TIMEOUT)
    if credentials is not None:
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=http)
    options = {"api_endpoint": settings.YOUTUBE_API_URL} if settings.YOUTUBE_API_URL else None
    return build(
        "youtube",
        "v3",
        http=http,
        developerKey=api_key or None,
        static_discovery=True,
        cache_discovery=False,
        client_options=options,
    )


class YouTubeClient:
    """One connection's calls. Not thread-safe: use one client per adapter/task."""

    def __init__(self, *, credentials=None, api_key: str = "", account_id: int | None = None):
        if credentials is None and not api_key:
            raise AuthError(
                "no YouTube credentials: connect a Google account or set YOUTUBE_API_KEY"
            )
        self.credentials = credentials
        self.api_key = api_key
        self.account_id = account_id
        self.service = build_service(credentials=credentials, api_key=api_key)

    @property
    def mode(self) -> str:
        return "oauth" if self.credentials is not None else "api-key"

    def _execute(self, request):
        try:
            return request.execute(num_retries=0)
        except HttpError as exc:
            raise classify(exc) from exc
        except google.auth.exceptions.RefreshError as exc:
            raise NeedsReconnect(
                f"Google refused to refresh the access token ({exc}); reconnect YouTube",
                reason="invalid_grant",
            ) from exc
        except google.auth.exceptions.TransportError as exc:
            raise NetworkError(f"could not reach the Google token endpoint: {exc}") from exc
        except (TimeoutError, OSError, httplib2.HttpLib2Error, ssl.SSLError) as exc:
            raise NetworkError(f"network error talking to YouTube: {exc!r}") from exc

    # --- reads ---
    def video(self, video_id: str) -> dict | None:
        response = self._execute(
            self.service.videos().list(part="liveStreamingDetails,snippet", id=video_id)
        )
        items = response.get("items") or []
        return items[0] if items else None

    def my_active_broadcast(self) -> dict | None:
        response = self._execute(
            self.service.liveBroadcasts().list(
                part="snippet,status", mine=True, broadcastStatus="active"
            )
        )
        items = response.get("items") or []
        return items[0] if items else None

    def my_channel(self) -> dict | None:
        response = self._execute(self.service.channels().list(part="snippet", mine=True))
        items = response.get("items") or []
        return items[0] if items else None

    def list_messages(self, live_chat_id: str, page_token: str = "", max_results: int = 2000):
        return self._execute(
            self.service.liveChatMessages().list(
                liveChatId=live_chat_id,
                part="snippet,authorDetails",
                pageToken=page_token or None,
                maxResults=max_results,
                profileImageSize=88,
            )
        )

    # --- writes ---
    def insert_message(self, live_chat_id: str, text: str) -> dict:
        body = {
            "snippet": {
                "liveChatId": live_chat_id,
                "type": "textMessageEvent",
                "textMessageDetails": {"messageText": text},
            }
        }
        return self._execute(self.service.liveChatMessages().insert(part="snippet", body=body))

    def delete_message(self, message_id: str) -> None:
        self._execute(self.service.liveChatMessages().delete(id=message_id))

    def ban(self, live_chat_id: str, channel_id: str, seconds: int | None = None) -> dict:
        snippet = {
            "liveChatId": live_chat_id,
            "type": "temporary" if seconds else "permanent",
            "bannedUserDetails": {"channelId": channel_id},
        }
        if seconds:
            snippet["banDurationSeconds"] = int(seconds)
        return self._execute(
            self.service.liveChatBans().insert(part="snippet", body={"snippet": snippet})
        )
