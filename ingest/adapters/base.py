"""The adapter interface: a platform adapter is one small class.

An adapter turns platform traffic into ``ChatEvent``s and hands them to ``emit``. It runs until
it is cancelled (the supervisor stops it) or returns (the source is finished, e.g. a stream
ended). Any exception means "connection lost": the supervisor reports it, backs off with jitter
and starts a fresh adapter with the last stored ``cursor``, so resuming is the adapter's
business and storing twice is impossible (events are deduplicated by platform id).

    @register
    class MyAdapter(Adapter):
        platform = "myplatform"

        async def run(self):
            async for raw in connect(self.source.identifier, resume=self.cursor):
                self.status.connected()
                await self.emit(ChatEvent(kind=Kind.MESSAGE, platform=self.platform, ...))
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from ..events import ChatEvent


class AdapterError(Exception):
    """A failure the supervisor should show as-is and retry with backoff."""


class FatalAdapterError(AdapterError):
    """A failure retrying cannot fix (bad credentials, unknown channel): the source is marked
    failed and retried only slowly (INGEST_BACKOFF_MAX) until an admin fixes it."""


@dataclass
class SourceConfig:
    """A snapshot of a ChatSource, safe to hand to async code (no lazy ORM access)."""

    id: int
    platform: str
    identifier: str
    settings: dict = field(default_factory=dict)
    credentials: dict = field(default_factory=dict)
    account_id: int | None = None

    @classmethod
    def from_model(cls, src) -> SourceConfig:
        return cls(
            id=src.pk,
            platform=src.platform,
            identifier=src.identifier,
            settings=dict(src.settings or {}),
            credentials=dict(src.credentials or {}),
            account_id=src.account_id,
        )


class StatusReporter(abc.ABC):
    @abc.abstractmethod
    def connected(self, detail: str = "") -> None: ...

    @abc.abstractmethod
    def offline(self, detail: str = "") -> None:
        """Reachable, but there is nothing to read yet (e.g. the channel is not live)."""

    @abc.abstractmethod
    def note(self, detail: str) -> None:
        """Update the human-readable detail without changing the state."""


class NullStatus(StatusReporter):
    def __init__(self):
        self.state = "idle"
        self.detail = ""

    def connected(self, detail: str = "") -> None:
        self.state, self.detail = "connected", detail

    def offline(self, detail: str = "") -> None:
        self.state, self.detail = "offline", detail

    def note(self, detail: str) -> None:
        self.detail = detail


class Adapter(abc.ABC):
    platform: ClassVar[str]

    def __init__(
        self,
        source: SourceConfig,
        emit: Callable[[ChatEvent], Awaitable[None]],
        *,
        cursor: str = "",
        status: StatusReporter | None = None,
    ):
        self.source = source
        self._emit = emit
        self.cursor = cursor
        self.status = status or NullStatus()

    async def emit(self, event: ChatEvent) -> None:
        event.source_id = self.source.id
        await self._emit(event)

    @abc.abstractmethod
    async def run(self) -> None: ...


REGISTRY: dict[str, type[Adapter]] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    REGISTRY[cls.platform] = cls
    return cls


def adapter_for(platform: str) -> type[Adapter]:
    from . import load_all

    load_all()
    try:
        return REGISTRY[platform]
    except KeyError:
        raise AdapterError(
            f"no adapter for platform {platform!r} (available: {', '.join(sorted(REGISTRY))})"
        ) from None
