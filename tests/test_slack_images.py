"""Images shared in Slack: downloaded with the bot token, resized, stored, shown; in the background."""

import io
import threading

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from ingest.slack import images
from tests.fakes.slack import FakeSlack
from tests.slack_helpers import CHANNEL, fake, feed, make_source, msg, wait_for  # noqa: F401
from tests.test_slack_http import deliver, http  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def png(width, height, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def test_an_image_is_resized_stored_and_shown_with_progress_reactions(http, client):  # noqa: F811
    make_source(image_max_width=320)
    http.add_file("F0PHOTO", png(1600, 900), name="crowd.png")
    m = http.add_message(CHANNEL, "U0ANN", "Crowd outside city hall", files=["F0PHOTO"])
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    row = msg(CHANNEL, m["ts"])
    assert row.extra["images"] == [{"file_id": "F0PHOTO", "name": "crowd.png", "status": "pending"}]
    wait_for(lambda: msg(CHANNEL, m["ts"]).extra["images"][0]["status"] != "pending", what="image")
    image = msg(CHANNEL, m["ts"]).extra["images"][0]
    assert image["status"] == "ready" and (image["width"], image["height"]) == (320, 180)
    name = image["url"].removeprefix("/media/")
    with default_storage.open(name) as f:
        assert Image.open(f).size == (320, 180)
    wait_for(lambda: len(http.reaction_log) == 3, what="reactions")
    assert [(op, name) for op, name, *_ in http.reaction_log] == [
        ("add", "hourglass_flowing_sand"),
        ("remove", "hourglass_flowing_sand"),
        ("add", "white_check_mark"),
    ]
    assert http.downloads == ["F0PHOTO"]
    shown = feed(client)["messages"][0]
    assert shown["images"] == [{"url": image["url"], "width": 320, "height": 180}]


def test_a_broken_image_gets_the_x_reaction(http, client):  # noqa: F811
    make_source()
    http.add_file("F0BAD", b"not an image at all", name="bad.png")
    m = http.add_message(CHANNEL, "U0ANN", "", files=["F0BAD"])
    deliver(client, FakeSlack.message_event(CHANNEL, m))
    wait_for(lambda: msg(CHANNEL, m["ts"]).extra["images"][0]["status"] == "failed", what="failed")
    wait_for(lambda: ("add", "x", CHANNEL, m["ts"]) in http.reaction_log, what="x reaction")
    assert feed(client)["messages"][0]["images"] == []


def test_image_work_never_blocks_ingest(http, client, monkeypatch):  # noqa: F811
    """While a download hangs, later messages are stored and the delivery is answered."""
    make_source()
    gate = threading.Event()
    real = images.download

    def slow_download(url, token):
        assert gate.wait(10)
        return real(url, token)

    monkeypatch.setattr(images, "download", slow_download)
    http.add_file("F0SLOW", png(50, 50), name="slow.png")
    first = http.add_message(CHANNEL, "U0ANN", "photo", files=["F0SLOW"])
    deliver(client, FakeSlack.message_event(CHANNEL, first))
    later = http.add_message(CHANNEL, "U0BOB", "a message after the photo")
    deliver(client, FakeSlack.message_event(CHANNEL, later))
    assert msg(CHANNEL, later["ts"]) is not None
    assert msg(CHANNEL, first["ts"]).extra["images"][0]["status"] == "pending"
    gate.set()
    wait_for(
        lambda: msg(CHANNEL, first["ts"]).extra["images"][0]["status"] == "ready",
        what="image after the gate",
    )


def test_downloads_need_the_bot_token(fake):  # noqa: F811
    fake.add_file("F0X", png(10, 10))
    with pytest.raises(images.ImageError, match="refused"):
        images.download(fake.files["F0X"]["info"]["url_private"], "xoxb-wrong")
    for url in (
        "file:///etc/passwd",
        "https://evil.example/files/F0X/x.png",
        "http://files.slack.com/x.png",
        "https://slack.com.evil.example/x.png",
    ):
        with pytest.raises(images.ImageError, match="refusing"):
            images.download(url, "xoxb-test-bot-token")
    assert images._trusted("https://files.slack.com/files-pri/T1-F1/photo.png")
