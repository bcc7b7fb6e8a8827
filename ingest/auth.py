"""API authentication: a bearer token (ApiToken) or a logged-in Django session with CSRF.

Both schemes are tried in order by django-ninja:

1. ``Authorization: Bearer <key>``. A key that is unknown, revoked, or belongs to an inactive user
   is a 401 at once (the session is NOT consulted: a broken token must not silently turn into
   another identity). Any other scheme (e.g. ``Basic`` from a reverse proxy) is ignored.
2. The session cookie. Unsafe methods (POST, PUT, PATCH, DELETE) must carry the CSRF token
   (``X-CSRFToken`` header or ``csrfmiddlewaretoken`` field), else 403. A request without a
   logged-in session is not a CSRF failure: it is simply unauthenticated (401).

Nothing found -> 401. Authenticated but lacking the role -> 403 (roles: ingest.permissions).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from .models import ApiToken
from .permissions import is_moderator

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}

ROLE_MESSAGE = "this endpoint needs a staff or moderator account"


def _check_role(user, require_moderator: bool) -> None:
    if require_moderator and not is_moderator(user):
        raise AuthorizationError(403, ROLE_MESSAGE)


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer chorus_...``; the key is looked up by its SHA-256."""

    def __init__(self, *, require_moderator: bool = True):
        self.require_moderator = require_moderator
        super().__init__()

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get(self.header, "")
        scheme, _, key = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None  # no token (or another scheme): let the session auth try
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token:
            raise AuthenticationError(401, "empty bearer token")
        api_token = ApiToken.authenticate(token)
        if api_token is None:
            raise AuthenticationError(401, "invalid or revoked API token")
        _check_role(api_token.user, self.require_moderator)
        request.api_token = api_token
        return api_token.user


class SessionCsrfAuth(APIKeyCookie):
    """The Django session of a logged-in user; CSRF enforced on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, *, require_moderator: bool = True):
        self.require_moderator = require_moderator
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and not getattr(
            request, "_ninja_csrf_exempt", False
        ):
            if check_csrf(request) is not None:
                raise HttpError(
                    403,
                    "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken "
                    "header (or use an API token)",
                )
        return self.authenticate(request, request.COOKIES.get(self.param_name))

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        _check_role(user, self.require_moderator)
        return user


def moderator_auth() -> list:
    """Token or session; the user must be staff or in the "moderator" group."""
    return [ApiTokenAuth(), SessionCsrfAuth()]


def any_user_auth() -> list:
    """Token or session of any active user (no role needed)."""
    return [ApiTokenAuth(require_moderator=False), SessionCsrfAuth(require_moderator=False)]
