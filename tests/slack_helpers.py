"""Shared fixtures and helpers of the Slack tests (tests/test_slack_*.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from asgiref.sync import sync_to_async

from ingest.models import ChatMessage, ChatSource
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack

CHANNEL = "C0LIVE01"


@pytest.fixture
def fake(settings, tmp_path):
    from ingest.slack import app as slack_app
    from ingest.slack import views as slack_views

    slack_views._cache.clear()
    server = FakeSlack().start()
    settings.SLACK_API_URL = server.api_url
    settings.SLACK_BOT_TOKEN = ""
    settings.SLACK_APP_TOKEN = ""
    settings.SLACK_SIGNING_SECRET = ""
    settings.SLACK_MODE = "socket"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    server.channels[CHANNEL] = []
    server.add_user("U0ANN", "ann", "Ann Reporter", title="Politics editor")
    server.add_user("U0BOB", "bob", "Bob", title="Reader")
    server.add_user("U0ADMIN", "root", "Editor in chief", is_admin=True)
    yield server
    slack_app.reset()
    server.stop()


def make_source(channel=CHANNEL, **settings_) -> ChatSource:
    return ChatSource.objects.create(
        platform="slack",
        identifier=channel,
        public=True,
        headline="Election night live",
        description="Our reporters answer",
        settings=settings_,
        credentials={"bot_token": BOT_TOKEN, "app_token": APP_TOKEN},
    )


def wait_for(predicate, timeout=10.0, what="condition"):
    from ingest.slack.db import retry_locked

    deadline = time.monotonic() + timeout
    while True:
        value = retry_locked(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.03)


async def until(predicate, timeout=10.0, what="condition"):
    """``predicate`` is sync (may use the ORM): runs in a thread."""
    deadline = time.monotonic() + timeout
    while True:
        value = await sync_to_async(predicate)()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.03)


def msg(channel, ts) -> ChatMessage | None:
    return ChatMessage.objects.filter(
        platform="slack", platform_message_id=f"{channel}/{ts}"
    ).first()


def feed(client, identifier=CHANNEL) -> dict:
    r = client.get(f"/api/{identifier}")
    assert r.status_code == 200, r.content
    return r.json()


@contextlib.asynccontextmanager
async def running_adapter(src: ChatSource):
    """The real SlackAdapter on a real pipeline, connected to the fake over Socket Mode."""
    from ingest.adapters.base import NullStatus, SourceConfig
    from ingest.adapters.slack import SlackAdapter
    from ingest.pipeline import Pipeline

    pipeline = Pipeline(listeners=[], flush_ms=20)
    pipeline.start()
    status = NullStatus()
    adapter = SlackAdapter(SourceConfig.from_model(src), pipeline.submit, status=status)
    task = asyncio.create_task(adapter.run())
    try:
        await until(lambda: status.state == "connected" or task.done(), what="connected")
        if task.done():
            task.result()
        yield status
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pipeline.stop()
