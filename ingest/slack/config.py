"""Slack configuration: credentials (encrypted in the database, or from the environment) and the
per-channel settings of a Slack chat source.

Credentials are looked up in this order, key by key: the source's ``credentials``
(EncryptedJSONField), its PlatformAccount's ``credentials`` (EncryptedJSONField), then the
environment (``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``). Keys:
``bot_token`` (``xoxb-``), ``app_token`` (``xapp-``, Socket Mode), ``signing_secret`` (HTTP mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CREDENTIAL_KEYS = ("bot_token", "app_token", "signing_secret")
ENV_FOR_KEY = {
    "bot_token": "SLACK_BOT_TOKEN",
    "app_token": "SLACK_APP_TOKEN",
    "signing_secret": "SLACK_SIGNING_SECRET",
}


class SlackConfigError(Exception):
    """A Slack source or connection is misconfigured; the text says what to fix."""


@dataclass(frozen=True)
class Credentials:
    bot_token: str = ""
    app_token: str = ""
    signing_secret: str = ""

    def key(self) -> tuple[str, str, str]:
        return (self.bot_token, self.app_token, self.signing_secret)


def resolve_credentials(*dicts: dict | None) -> Credentials:
    """First non-empty value per key from ``dicts`` (source, then account), then settings/env."""
    values = {}
    for key in CREDENTIAL_KEYS:
        value = ""
        for d in dicts:
            if d and isinstance(d.get(key), str) and d[key].strip():
                value = d[key].strip()
                break
        if not value:
            value = (getattr(settings, ENV_FOR_KEY[key], "") or "").strip()
        values[key] = value
    return Credentials(**values)


def credentials_for_source(src) -> Credentials:
    """For a ChatSource model instance (reads its account's credentials too)."""
    account = src.account if src.account_id else None
    return resolve_credentials(src.credentials, account.credentials if account else None)


def api_url() -> str:
    url = settings.SLACK_API_URL or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


class SourceSettings(BaseModel):
    """``ChatSource.settings`` of a Slack channel (all optional)."""

    model_config = ConfigDict(extra="ignore")

    # "immediate": published (status sent) on arrival; "approval": held (status new) until a
    # permitted user adds ``approval_reaction``; removing it unpublishes the message.
    publish: Literal["immediate", "approval"] = "immediate"
    approval_reaction: str = Field(default="white_check_mark", min_length=1, max_length=100)
    # Slack user ids allowed to approve. Empty: workspace admins and owners (users.info).
    approvers: list[str] = Field(default_factory=list)
    threads: Literal["include", "skip"] = "include"
    # Messages starting with one of these (after leading spaces) are never ingested.
    comment_prefixes: list[str] = Field(default_factory=lambda: ["#>", "<#>"])
    # "socket" (default) or "http"; empty = SLACK_MODE.
    mode: Literal["", "socket", "http"] = ""
    slug: str = ""
    image_max_width: int | None = Field(default=None, ge=16, le=10000)
    images: bool = True

    @field_validator("approval_reaction")
    @classmethod
    def _strip_colons(cls, v: str) -> str:
        return v.strip().strip(":")

    @field_validator("comment_prefixes", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        if isinstance(v, str):
            return [v] if v else []
        return v

    def effective_mode(self) -> str:
        mode = self.mode or (settings.SLACK_MODE or "socket").lower()
        if mode not in ("socket", "http"):
            raise SlackConfigError(f"SLACK_MODE must be 'socket' or 'http' (got {mode!r})")
        return mode

    def max_width(self) -> int:
        return self.image_max_width or int(settings.SLACK_IMAGE_MAX_WIDTH)


def parse_settings(raw: dict | None) -> SourceSettings:
    try:
        return SourceSettings.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise SlackConfigError(f"invalid Slack source settings: {problems}") from None


@dataclass
class ChannelInfo:
    """What event handling needs to know about one Slack channel source."""

    source_id: int
    channel: str
    settings: SourceSettings
    credentials: Credentials = field(default_factory=Credentials)
