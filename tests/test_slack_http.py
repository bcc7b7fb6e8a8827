"""Slack over the HTTP Events API: signed requests into the real Bolt app at /slack/events.

Edits, deletions, the comment marker and thread replies are tested here (HTTP mode stores each
delivery before answering, which keeps these tests short); Socket Mode shares the same listeners
(tests/test_slack_socket.py).
"""

import asyncio
import json
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from slack_sdk.signature import SignatureVerifier

from ingest.models import ChatMessage
from tests.fakes.slack import BOT_TOKEN, BOT_USER, FakeSlack
from tests.slack_helpers import CHANNEL, fake, feed, make_source, msg, wait_for  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def http(fake, settings):  # noqa: F811
    settings.SLACK_MODE = "http"
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    return fake


def signed_post(client, payload: dict, *, secret=SECRET, timestamp=None, signature=None):
    body = json.dumps(payload)
    ts = str(int(timestamp if timestamp is not None else time.time()))
    sig = signature or SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return client.post(
        "/slack/events",
        data=body,
        content_type="application/json",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=ts,
        HTTP_X_SLACK_SIGNATURE=sig,
    )


def deliver(client, event: dict):
    r = signed_post(client, FakeSlack.callback(event))
    assert r.status_code == 200, r.content
    return r


class Frames:
    """Frames published to the moderation dashboards (the in-memory channel layer)."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.name = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)("moderation", self.name)

    def collect(self, seconds=0.5) -> list[dict]:
        async def drain():
            out = []
            while True:
                try:
                    m = await asyncio.wait_for(self.layer.receive(self.name), seconds)
                except TimeoutError:
                    return out
                out.append(json.loads(m["frame"]))

        return async_to_sync(drain)()


def test_url_verification_and_signatures(http, client):
    challenge = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    r = signed_post(client, challenge)
    assert r.status_code == 200 and r.json()["challenge"] == challenge["challenge"]

    m = http.add_message(CHANNEL, "U0ANN", "must not be stored")
    from django.db import connection  # noqa: F401

    make_source()
    payload = FakeSlack.callback(FakeSlack.message_event(CHANNEL, m))
    assert signed_post(client, payload, secret="wrong-secret").status_code == 401
    assert signed_post(client, payload, signature="v0=deadbeef").status_code == 401
    stale = time.time() - 10 * 60  # replayed request: older than five minutes
    assert signed_post(client, payload, timestamp=stale).status_code == 401
    assert (
        client.post(
            "/slack/events", data=json.dumps(payload), content_type="application/json"
        ).status_code
        == 401
    )
    assert client.get("/slack/events").status_code == 405
    assert ChatMessage.objects.count() == 0
    assert signed_post(client, payload).status_code == 200
    assert ChatMessage.objects.get().text == "must not be stored"


def test_not_configured_is_a_clear_503(fake, client):  # noqa: F811
    r = client.post("/slack/events", data="{}", content_type="application/json")
    assert r.status_code == 503 and "SLACK_SIGNING_SECRET" in r.json()["detail"]


def test_a_stream_of_deliveries_messages_edits_deletions_live(http, client):
    make_source()
    frames = Frames()
    m1 = http.add_message(CHANNEL, "U0ANN", "Turnout is *high*")
    m2 = http.add_message(CHANNEL, "U0BOB", "second")
    m3 = http.add_message(CHANNEL, "U0ANN", "third")
    for m in (m1, m2, m3):
        deliver(client, FakeSlack.message_event(CHANNEL, m))
    wait_for(lambda: ChatMessage.objects.filter(status="sent").count() == 3, what="published")
    assert [x["text"] for x in feed(client)["messages"]] == ["third", "second", "Turnout is *high*"]

    # Edit: stored text, rendered HTML and the feed follow; dashboards get chat.updated.
    deliver(client, http.edit(CHANNEL, m1["ts"], "Turnout is _record_ &lt;b&gt;"))
    wait_for(lambda: "<i>record</i>" in msg(CHANNEL, m1["ts"]).extra["html"], what="edit html")
    row = msg(CHANNEL, m1["ts"])
    assert row.text == "Turnout is _record_ &lt;b&gt;" and row.edited_at is not None
    shown = {x["text"]: x for x in feed(client)["messages"]}
    assert shown["Turnout is _record_ &lt;b&gt;"]["html"] == "Turnout is <i>record</i> &lt;b&gt;"

    # A link preview arrives as message_changed without "edited": nothing changes.
    unfurl = http.edit(CHANNEL, m2["ts"], "second")
    del unfurl["message"]["edited"]
    deliver(client, unfurl)
    assert msg(CHANNEL, m2["ts"]).edited_at is None

    # Deletion: gone from the feed, marked on the row, dashboards told.
    deliver(client, http.delete(CHANNEL, m3["ts"]))
    assert msg(CHANNEL, m3["ts"]).platform_state == "deleted"
    assert [x["text"] for x in feed(client)["messages"]] == [
        "second",
        "Turnout is _record_ &lt;b&gt;",
    ]
    seen = frames.collect()
    kinds = [f["type"] for f in seen]
    assert kinds.count("chat.messages") == 3
    updated = [m for f in seen if f["type"] == "chat.updated" for m in f["messages"]]
    assert any(m["text"].startswith("Turnout is _record_") for m in updated)
    assert any(m["status"] == "sent" for m in updated)  # immediate publishing, live
    moderation = [e for f in seen if f["type"] == "chat.moderation" for e in f["events"]]
    assert moderation[0]["kind"] == "deletion" and moderation[0]["target_text"] == "third"
    assert moderation[0]["affected"][0]["platform_state"] == "deleted"

    # The same delivery again (Slack retries): nothing twice.
    deliver(client, FakeSlack.message_event(CHANNEL, m2))
    assert ChatMessage.objects.count() == 3


def test_comment_marker_is_never_ingested(http, client):
    make_source()
    notes = [
        http.add_message(CHANNEL, "U0ANN", "#&gt; editors only: hold this"),
        http.add_message(CHANNEL, "U0ANN", "  &lt;#&gt; another internal note"),
    ]
    public = http.add_message(CHANNEL, "U0ANN", "for the readers")
    for m in (*notes, public):
        deliver(client, FakeSlack.message_event(CHANNEL, m))
    assert list(ChatMessage.objects.values_list("text", flat=True)) == ["for the readers"]
    # Edited into a comment: removed from everything that shows it.
    deliver(client, http.edit(CHANNEL, public["ts"], "#&gt; oops, internal"))
    assert msg(CHANNEL, public["ts"]).platform_state == "deleted"
    assert feed(client)["messages"] == []


def test_custom_comment_prefix(http, client):
    make_source(comment_prefixes=["//"])
    for text in ("// internal", "#&gt; now public"):
        deliver(client, FakeSlack.message_event(CHANNEL, http.add_message(CHANNEL, "U0ANN", text)))
    assert list(ChatMessage.objects.values_list("text", flat=True)) == ["#&gt; now public"]


@pytest.mark.parametrize("threads", ["include", "skip"])
def test_thread_replies_follow_the_source_setting(http, client, threads):
    make_source(threads=threads)
    parent = http.add_message(CHANNEL, "U0ANN", "Question thread")
    reply = http.add_message(CHANNEL, "U0BOB", "an answer", thread_ts=parent["ts"])
    broadcast = http.add_message(
        CHANNEL, "U0BOB", "answer also sent to the channel", thread_ts=parent["ts"]
    )
    broadcast["subtype"] = "thread_broadcast"
    for m in (parent, reply, broadcast):
        deliver(client, FakeSlack.message_event(CHANNEL, m))
    texts = set(ChatMessage.objects.values_list("text", flat=True))
    if threads == "include":
        assert texts == {"Question thread", "an answer", "answer also sent to the channel"}
        assert msg(CHANNEL, reply["ts"]).reply_to == f"{CHANNEL}/{parent['ts']}"
    else:
        assert texts == {"Question thread", "answer also sent to the channel"}


def test_channel_events_and_the_bots_own_messages_are_not_chat(http, client):
    make_source()
    join = {
        "type": "message",
        "subtype": "channel_join",
        "user": "U0BOB",
        "ts": http.next_ts(),
        "text": "<@U0BOB> has joined the channel",
        "channel": CHANNEL,
    }
    own = {
        "type": "message",
        "user": BOT_USER,
        "bot_id": "BBOT",
        "ts": http.next_ts(),
        "text": "posted by Chorus",
        "channel": CHANNEL,
    }
    other = {
        "type": "message",
        "channel": "C0NOTOURS",
        "user": "U0ANN",
        "ts": http.next_ts(),
        "text": "another channel",
    }
    for ev in (join, own, other):
        deliver(client, ev)
    assert ChatMessage.objects.count() == 0


def test_secrets_stored_on_the_source_are_used(fake, client, settings):  # noqa: F811
    settings.SLACK_MODE = "http"
    src = make_source()
    src.credentials = {"bot_token": BOT_TOKEN, "signing_secret": SECRET}
    src.save()
    m = fake.add_message(CHANNEL, "U0ANN", "signed with the stored secret")
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    assert msg(CHANNEL, m["ts"]).text == "signed with the stored secret"
    bad = signed_post(
        client, FakeSlack.callback(FakeSlack.message_event(CHANNEL, m)), secret="not-the-stored-one"
    )
    assert bad.status_code == 401


def test_the_feed_is_also_reachable_by_slug(http, client):
    make_source(slug="election-night")
    m = http.add_message(CHANNEL, "U0ANN", "by slug")
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    wait_for(lambda: msg(CHANNEL, m["ts"]).status == "sent", what="published")
    body = feed(client, "election-night")
    assert body["identifier"] == CHANNEL and [x["text"] for x in body["messages"]] == ["by slug"]
    assert client.get("/api/no-such-slug").status_code == 404


def test_a_storage_failure_is_not_acknowledged_so_slack_retries(http, client, monkeypatch):
    import ingest.store

    make_source()
    real = ingest.store.store_batch
    calls = []

    def failing_once(events):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        return real(events)

    monkeypatch.setattr(ingest.store, "store_batch", failing_once)
    m = http.add_message(CHANNEL, "U0ANN", "survives a storage hiccup")
    payload = FakeSlack.callback(FakeSlack.message_event(CHANNEL, m))
    first = signed_post(client, payload)
    assert first.status_code >= 500  # Slack re-sends on any non-2xx answer
    assert msg(CHANNEL, m["ts"]) is None
    assert signed_post(client, payload).status_code == 200  # Slack's retry
    assert msg(CHANNEL, m["ts"]).text == "survives a storage hiccup"
