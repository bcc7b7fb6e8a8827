"""Capture delay across processes: in scale-out a run_ingest worker holds the new chat for the
ticker and alerts overlays while moderators act in a WEB process. What they ignore (or the
platform deletes) meanwhile must not go on air when the delay ends, although the worker's hub
never saw the removal."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from ingest.models import ChatMessage, MessageStatus, PlatformState
from tests.factories import msg
from tests.test_overlays import (  # noqa: F401 (fixtures)
    _close_thread_connections,
    _fresh_channel_layer,
    pipeline,
    recv,
    recv_until,
    setup,
    store,
    ws,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_what_another_process_ignored_during_the_delay_never_reaches_the_ticker():
    src, m, ov, token, mod = await setup(kind="ticker", delay=1)
    ticker, ok, _ = await ws(token)
    assert ok
    await recv(ticker)
    ids = await store(
        pipeline(),
        msg(src, 1, text="ignored elsewhere", id="a"),
        msg(src, 2, text="deleted elsewhere", id="b"),
        msg(src, 3, text="fine", id="c"),
    )
    # Changed in the database only, as another process would: no signal, no hub of this process.
    await sync_to_async(ChatMessage.objects.filter(pk=ids["a"]).update)(
        status=MessageStatus.IGNORED
    )
    await sync_to_async(ChatMessage.objects.filter(pk=ids["b"]).update)(
        platform_state=PlatformState.DELETED
    )
    frame = await recv_until(ticker, "ticker.messages", timeout=3)
    assert [x["text"] for x in frame["messages"]] == ["fine"]
    await ticker.disconnect()
