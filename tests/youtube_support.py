"""Shared fixtures for the YouTube tests: the local fake API, settings pointed at it, a runner."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from asgiref.sync import sync_to_async

from ingest.adapters.base import NullStatus, SourceConfig
from ingest.adapters.youtube import YouTubeAdapter
from ingest.models import ChatSource, PlatformAccount
from ingest.pipeline import Pipeline
from tests.fakes.youtube_api import FORCE_SSL, FakeYouTube

VIDEO = "dQw4w9WgXcQ"
CHAT = "chat-1"


@pytest.fixture(name="fake")
def fake_fixture():
    server = FakeYouTube().start()
    yield server
    server.stop()


@pytest.fixture(name="yt")
def yt_fixture(settings, fake):
    """Settings pointing the real google-api-python-client at the fake."""
    settings.YOUTUBE_API_URL = fake.url
    settings.GOOGLE_TOKEN_URL = fake.token_url
    settings.GOOGLE_AUTH_URL = fake.url + "o/oauth2/v2/auth"
    settings.GOOGLE_CLIENT_ID = fake.client_id
    settings.GOOGLE_CLIENT_SECRET = fake.client_secret
    settings.YOUTUBE_API_KEY = ""
    settings.YOUTUBE_MIN_POLL_SECONDS = 0.0
    settings.YOUTUBE_DAILY_QUOTA = 10_000_000
    settings.YOUTUBE_QUOTA_RESERVE = 0
    settings.YOUTUBE_OFFLINE_CHECK_SECONDS = 0.2
    settings.YOUTUBE_METADATA_REFRESH_SECONDS = 3600
    settings.INGEST_BACKOFF_INITIAL = 0.1
    settings.INGEST_BACKOFF_MAX = 0.4
    return fake


def make_account(fake, scopes=(FORCE_SSL,), channel="UCowner", name="Owner Channel"):
    tokens = fake.grant(channel, name, scopes)
    return PlatformAccount.objects.create(
        platform="youtube",
        account_id=channel,
        display_name=name,
        scopes=list(scopes),
        credentials={
            "token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "scopes": list(scopes),
        },
    ), tokens


def make_source(identifier=VIDEO, account=None, **settings_):
    return ChatSource.objects.create(
        platform="youtube",
        identifier=identifier,
        account=account,
        settings=settings_,
        enabled=False,
    )


class Run:
    """Run a YouTubeAdapter against a real Pipeline (store + cursor), like the supervisor does."""

    def __init__(self, source_id, **adapter_kw):
        self.source_id = source_id
        self.adapter_kw = adapter_kw
        self.pipeline = Pipeline(listeners=[], flush_ms=10)
        self.status = NullStatus()
        self.adapter = None
        self.task = None

    async def _build(self):
        src = await sync_to_async(ChatSource.objects.get)(pk=self.source_id)
        self.pipeline.start()
        self.adapter = YouTubeAdapter(
            SourceConfig.from_model(src),
            self.pipeline.submit,
            cursor=src.cursor,
            status=self.status,
            **self.adapter_kw,
        )

    async def run(self, timeout=10):
        """Run to completion (use max_polls)."""
        await self._build()
        try:
            await asyncio.wait_for(self.adapter.run(), timeout)
        finally:
            await self.pipeline.drain(5)
            await self.pipeline.stop()

    async def start(self):
        await self._build()
        self.task = asyncio.create_task(self.adapter.run())
        return self

    async def stop(self):
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await self.pipeline.drain(5)
        await self.pipeline.stop()


async def wait_for(predicate, timeout=8.0, interval=0.05):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(interval)


def db(fn, *args, **kw):
    return sync_to_async(fn)(*args, **kw)


@pytest.fixture(name="close_thread_connections", autouse=True)
def close_thread_connections_fixture():
    """sync_to_async outside async_to_sync runs in one shared executor thread whose DB
    connection would outlive the test (PostgreSQL then refuses to drop the test database)."""
    yield
    from django.db import connections

    async def close():
        await sync_to_async(connections.close_all)()

    asyncio.run(close())
