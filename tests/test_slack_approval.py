"""Publishing by emoji: held until a permitted user reacts, unpublished when the reaction goes."""

import pytest

from ingest.models import ChatMessage, MessageAction
from tests.fakes.slack import BOT_USER, FakeSlack
from tests.slack_helpers import CHANNEL, fake, feed, make_source, msg, wait_for  # noqa: F401
from tests.test_slack_http import Frames, deliver, http  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def settle():
    from ingest.slack import app as slack_app

    assert slack_app.wait_idle(10)


def test_held_approved_published_then_unpublished_end_to_end(http, client):  # noqa: F811
    make_source(publish="approval", approvers=["U0ANN"])
    frames = Frames()
    m = http.add_message(CHANNEL, "U0BOB", "Will the recount change anything?")
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    settle()
    assert msg(CHANNEL, m["ts"]).status == "new"  # held
    assert feed(client)["messages"] == []

    # Someone who may not approve, and another emoji from someone who may: still held.
    deliver(client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0BOB"))
    deliver(client, http.reaction_event(CHANNEL, m["ts"], "thumbsup", "U0ANN"))
    settle()
    assert msg(CHANNEL, m["ts"]).status == "new"

    deliver(client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0ANN"))
    wait_for(lambda: msg(CHANNEL, m["ts"]).status == "sent", what="approved")
    shown = feed(client)["messages"]
    assert [x["text"] for x in shown] == ["Will the recount change anything?"]
    assert shown[0]["author"] == {
        "name": "Bob",
        "avatar_url": "https://avatars.example/U0BOB_192.png",
        "title": "Reader",
    }
    # The text was fetched with conversations.history (reaction events carry none).
    assert "conversations.history" in http.names_called()

    # Bob's (unpermitted) reaction stays; Ann removes hers: unpublished.
    deliver(client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0ANN", remove=True))
    wait_for(lambda: msg(CHANNEL, m["ts"]).status == "new", what="unpublished")
    assert feed(client)["messages"] == []

    actions = list(MessageAction.objects.order_by("id").values_list("via", "changes"))
    assert [(v, c["status"]) for v, c in actions] == [
        ("slack", ["new", "sent"]),
        ("slack", ["sent", "new"]),
    ]
    updates = [f for f in frames.collect() if f["type"] == "message.updated"]
    assert [u["changes"]["status"] for u in updates] == ["sent", "new"]


def test_admins_approve_when_no_list_is_set(http, client):  # noqa: F811
    make_source(publish="approval")
    m = http.add_message(CHANNEL, "U0BOB", "hello")
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    deliver(client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0ANN"))
    settle()
    assert msg(CHANNEL, m["ts"]).status == "new"  # Ann is no workspace admin
    deliver(client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0ADMIN"))
    wait_for(lambda: msg(CHANNEL, m["ts"]).status == "sent", what="admin approval")


def test_the_bots_own_reaction_never_approves(http, client):  # noqa: F811
    make_source(publish="approval", approvers=["U0ANN"])
    m = http.add_message(CHANNEL, "U0BOB", "photo done")
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    # The image pipeline's own white_check_mark (Bolt drops the bot's events; we check anyway).
    deliver(client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", BOT_USER))
    settle()
    assert msg(CHANNEL, m["ts"]).status == "new"


def test_custom_reaction_and_messages_chorus_never_saw(http, client):  # noqa: F811
    """Approving a message posted while Chorus was down: fetched, stored and published."""
    make_source(publish="approval", approvers=["U0ANN"], approval_reaction=":star:")
    old = http.add_message(CHANNEL, "U0BOB", "posted before the restart")
    parent = http.add_message(CHANNEL, "U0ANN", "thread start")
    reply = http.add_message(CHANNEL, "U0BOB", "a reply nobody delivered", thread_ts=parent["ts"])
    deliver(client, http.reaction_event(CHANNEL, old["ts"], "white_check_mark", "U0ANN"))
    settle()
    assert ChatMessage.objects.count() == 0  # not the approval emoji of this channel
    deliver(client, http.reaction_event(CHANNEL, old["ts"], "star", "U0ANN"))
    wait_for(
        lambda: msg(CHANNEL, old["ts"]) and msg(CHANNEL, old["ts"]).status == "sent",
        what="fetched and approved",
    )
    assert msg(CHANNEL, old["ts"]).text == "posted before the restart"
    deliver(client, http.reaction_event(CHANNEL, reply["ts"], "star", "U0ANN"))
    wait_for(
        lambda: msg(CHANNEL, reply["ts"]) and msg(CHANNEL, reply["ts"]).status == "sent",
        what="thread reply approved",
    )
    assert "conversations.replies" in http.names_called()
    assert {x["text"] for x in feed(client)["messages"]} == {
        "posted before the restart",
        "a reply nobody delivered",
    }


def test_immediate_channels_ignore_reactions(http, client):  # noqa: F811
    make_source()
    m = http.add_message(CHANNEL, "U0BOB", "straight out")
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    wait_for(lambda: msg(CHANNEL, m["ts"]).status == "sent", what="published on arrival")
    deliver(
        client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0ADMIN", remove=False)
    )
    deliver(
        client, http.reaction_event(CHANNEL, m["ts"], "white_check_mark", "U0ADMIN", remove=True)
    )
    settle()
    assert msg(CHANNEL, m["ts"]).status == "sent"
