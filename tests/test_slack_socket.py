"""Slack over Socket Mode: the real SlackAdapter + slack-bolt + slack-sdk against tests/fakes/slack.py."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from ingest.models import ChatMessage, MessageAction
from tests.slack_helpers import CHANNEL, fake, make_source, msg, running_adapter, until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


async def test_every_event_of_a_burst_is_handled_acked_and_published(fake, client):  # noqa: F811
    src = await sync_to_async(make_source)()
    async with running_adapter(src) as status:
        assert "Socket Mode" in status.detail
        assert fake.connections == 1
        m1 = fake.add_message(CHANNEL, "U0ANN", "Polls close at *8pm* <@U0BOB>")
        m2 = fake.add_message(CHANNEL, "U0BOB", "&lt;script&gt;alert(1)&lt;/script&gt; hi")
        m3 = fake.add_message(CHANNEL, "U0ANN", "Third <https://example.org/results|results>")
        envs = fake.send_events([fake.message_event(CHANNEL, m) for m in (m1, m2, m3)])
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(envs)
        await until(lambda: ChatMessage.objects.filter(status="sent").count() == 3, what="3 sent")
        # Slack re-sends an envelope (new envelope id, same message): stored once.
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(
            fake.send_events([fake.message_event(CHANNEL, m1)])
        )
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(
            fake.send_events([fake.message_event(CHANNEL, m1)])
        )

    rows = await sync_to_async(lambda: list(ChatMessage.objects.order_by("sent_at")))()
    assert [r.platform_message_id for r in rows] == [f"{CHANNEL}/{m['ts']}" for m in (m1, m2, m3)]
    assert rows[1].text == "&lt;script&gt;alert(1)&lt;/script&gt; hi"  # raw text verbatim
    assert "<script" not in rows[1].extra["html"] and "&lt;script&gt;" in rows[1].extra["html"]
    assert rows[0].extra["html"] == 'Polls close at <b>8pm</b> <span class="mention">@Bob</span>'
    assert rows[0].extra["author_title"] == "Politics editor"
    author = await sync_to_async(lambda: rows[0].author)()
    assert (author.display_name, author.avatar_url) == (
        "Ann Reporter",
        "https://avatars.example/U0ANN_192.png",
    )
    actions = await sync_to_async(
        lambda: list(MessageAction.objects.values_list("via", flat=True))
    )()
    assert actions == ["slack"] * 3
    body = (await sync_to_async(client.get)(f"/api/{CHANNEL}")).json()
    assert body["headline"] == "Election night live"
    assert [m["author"]["name"] for m in body["messages"]] == [
        "Ann Reporter",
        "Bob",
        "Ann Reporter",
    ]
    assert body["messages"][2]["author"]["title"] == "Politics editor"
    assert '<a href="https://example.org/results"' in body["messages"][0]["html"]


async def test_message_edit_and_deletion_in_one_burst_apply_in_order(fake, client):  # noqa: F811
    src = await sync_to_async(make_source)()
    async with running_adapter(src):
        a = fake.add_message(CHANNEL, "U0ANN", "first draft")
        b = fake.add_message(CHANNEL, "U0BOB", "to be deleted")
        events = [fake.message_event(CHANNEL, a), fake.message_event(CHANNEL, b)]
        events += [fake.edit(CHANNEL, a["ts"], "final *text*"), fake.delete(CHANNEL, b["ts"])]
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(fake.send_events(events))
        await until(
            lambda: (m := msg(CHANNEL, a["ts"])) and m.extra["html"] == "final <b>text</b>",
            what="edit applied",
        )
        await until(lambda: msg(CHANNEL, b["ts"]).platform_state == "deleted", what="deleted")
    body = (await sync_to_async(client.get)(f"/api/{CHANNEL}")).json()
    assert [(m["text"], m["html"]) for m in body["messages"]] == [
        ("final *text*", "final <b>text</b>")
    ]


async def test_refresh_requested_reconnects_and_keeps_reading(fake):  # noqa: F811
    src = await sync_to_async(make_source)()
    async with running_adapter(src):
        fake.refresh()
        await sync_to_async(fake.wait_connections, thread_sensitive=False)(2)
        m = fake.add_message(CHANNEL, "U0ANN", "after the refresh")
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(
            fake.send_events([fake.message_event(CHANNEL, m)])
        )
        await until(lambda: msg(CHANNEL, m["ts"]), what="message after reconnect")
    assert fake.names_called().count("apps.connections.open") >= 2


async def test_two_channels_share_one_socket(fake):  # noqa: F811
    fake.channels["C0OTHER"] = []
    a = await sync_to_async(make_source)()
    b = await sync_to_async(make_source)("C0OTHER", threads="skip")
    async with running_adapter(a), running_adapter(b):
        assert fake.connections == 1
        m1 = fake.add_message(CHANNEL, "U0ANN", "in live")
        m2 = fake.add_message("C0OTHER", "U0BOB", "in other")
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(
            fake.send_events([fake.message_event(CHANNEL, m1), fake.message_event("C0OTHER", m2)])
        )
        await until(lambda: ChatMessage.objects.count() == 2, what="both")
    by_source = await sync_to_async(
        lambda: dict(ChatMessage.objects.values_list("source__identifier", "text"))
    )()
    assert by_source == {CHANNEL: "in live", "C0OTHER": "in other"}


@pytest.mark.parametrize(
    "credentials,error",
    [
        (
            {"bot_token": "xoxb-wrong", "app_token": "xapp-1-x"},
            "refused the bot token: invalid_auth",
        ),
        ({"bot_token": "xoxb-test-bot-token"}, "Socket Mode needs an app-level token"),
        ({}, "no Slack bot token"),
    ],
)
async def test_bad_credentials_fail_the_source_with_the_reason(fake, credentials, error):  # noqa: F811
    from ingest.adapters.base import FatalAdapterError, NullStatus, SourceConfig
    from ingest.adapters.slack import SlackAdapter

    src = await sync_to_async(make_source)()
    src.credentials = credentials
    adapter = SlackAdapter(SourceConfig.from_model(src), None, status=NullStatus())
    with pytest.raises(FatalAdapterError, match=error):
        await adapter.run()


async def test_the_supervisor_runs_channels_with_account_credentials_encrypted(fake, settings):  # noqa: F811
    """Tokens stored on a PlatformAccount (encrypted at rest); two channels via the supervisor."""
    from django.db import connection

    from ingest.locks import LocalLeases
    from ingest.models import ChatSource, PlatformAccount
    from ingest.pipeline import Pipeline
    from ingest.supervisor import Supervisor
    from tests.fakes.slack import APP_TOKEN, BOT_TOKEN

    def setup():
        account = PlatformAccount.objects.create(
            platform="slack",
            account_id="T0NEWS",
            display_name="Newsroom",
            credentials={"bot_token": BOT_TOKEN, "app_token": APP_TOKEN},
        )
        fake.channels["C0SECOND"] = []
        for channel in (CHANNEL, "C0SECOND"):
            ChatSource.objects.create(platform="slack", identifier=channel, account=account)
        with connection.cursor() as cur:
            cur.execute("SELECT credentials FROM ingest_platformaccount")
            raw = str(cur.fetchone()[0])
        assert BOT_TOKEN not in raw and APP_TOKEN not in raw

    await sync_to_async(setup)()
    sup = Supervisor(Pipeline(listeners=[], flush_ms=20), leases=LocalLeases(), sync_seconds=0.2)
    task = asyncio.create_task(sup.run())
    try:
        await until(
            lambda: ChatSource.objects.filter(status="connected").count() == 2, what="connected"
        )
        assert fake.connections == 1
        m1 = fake.add_message(CHANNEL, "U0ANN", "one")
        m2 = fake.add_message("C0SECOND", "U0BOB", "two")
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(
            fake.send_events([fake.message_event(CHANNEL, m1), fake.message_event("C0SECOND", m2)])
        )
        await until(lambda: ChatMessage.objects.filter(status="sent").count() == 2, what="stored")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_events_for_a_channel_led_elsewhere_are_stored_too(fake):  # noqa: F811
    """Slack delivers each event to one of the app's connections: a worker stores events of
    enabled channels whose adapter runs in another worker (deduplicated by message id)."""
    fake.channels["C0ELSEWHERE"] = []
    here = await sync_to_async(make_source)()
    await sync_to_async(make_source)("C0ELSEWHERE")
    async with running_adapter(here):
        m = fake.add_message("C0ELSEWHERE", "U0ANN", "delivered to this worker's socket")
        await sync_to_async(fake.wait_acked, thread_sensitive=False)(
            fake.send_events([fake.message_event("C0ELSEWHERE", m)])
        )
        await until(lambda: msg("C0ELSEWHERE", m["ts"]), what="stored by this worker")
        await until(lambda: msg("C0ELSEWHERE", m["ts"]).status == "sent", what="published")
