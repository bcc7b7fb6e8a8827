"""Streamed CSV/JSON exports of messages and platform moderation events."""

import csv
import io
import json
import warnings
from datetime import timedelta

import pytest
from channels.testing import HttpCommunicator
from django.contrib.auth.models import Group, User

from ingest import exports
from ingest.models import ApiToken, ChatMessage, ModerationEvent
from tests.factories import T0, author, msg, source
from tests.test_api import save

pytestmark = [pytest.mark.django_db]

HOSTILE = [
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=cmd|' /C calc'!A0",
    "plain, with \"quotes\"\nand a newline",
    "<script>alert(1)</script>",
]


def moderator_headers():
    user = User.objects.create_user("mod")
    user.groups.add(Group.objects.get_or_create(name="moderator")[0])
    _, key = ApiToken.issue(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def auth():
    return moderator_headers()


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(exports, "CHUNK_SIZE", 3)


def body_parts(response) -> list[bytes]:
    assert response.streaming
    return list(response.streaming_content)


def read_csv(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def seed_messages():
    src = source("youtube", "vid123")
    save(*
        [
            msg(src, i, text=t, who=author("UC1", "=evil", "@boss"))
            for i, t in enumerate(HOSTILE, start=1)
        ]
    )
    ChatMessage.objects.filter(platform_message_id__in=["m1", "m2"]).update(status="sent")
    return src


def test_messages_csv_streams_every_row_and_neutralises_formulas(client, auth, small_chunks):
    seed_messages()
    r = client.get("/api/export/messages.csv", **auth)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert 'filename="messages.csv"' in r["Content-Disposition"]
    parts = body_parts(r)
    assert len(parts) >= 4  # header + 3 chunks of <= 3 rows: streamed, not one blob
    rows = read_csv(b"".join(parts))
    assert [row["text"] for row in rows] == [
        "'" + HOSTILE[0],
        "'+1+2",
        "'-2+3",
        "'@SUM(A1:A2)",
        "'" + HOSTILE[4],
        HOSTILE[5],
        HOSTILE[6],
    ]
    assert all(row["author_login"] == "'=evil" for row in rows)
    assert all(row["author_display_name"] == "'@boss" for row in rows)
    assert rows[0]["video_id"] == "vid123" and rows[0]["source_identifier"] == "vid123"
    ids = [int(row["id"]) for row in rows]
    assert ids == sorted(ChatMessage.objects.values_list("id", flat=True))  # oldest first

    sent = read_csv(b"".join(body_parts(client.get("/api/export/messages.csv?status=sent", **auth))))
    assert [row["status"] for row in sent] == ["sent", "sent"]


def test_messages_json_is_one_array_with_the_api_shape(client, auth, small_chunks):
    seed_messages()
    r = client.get("/api/export/messages.json?platform=youtube", **auth)
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    parts = body_parts(r)
    assert len(parts) >= 4
    rows = json.loads(b"".join(parts))
    assert [row["text"] for row in rows] == HOSTILE  # verbatim in JSON
    assert rows[0]["message"] == HOSTILE[0] and rows[0]["video_id"] == "vid123"
    assert json.loads(b"".join(body_parts(client.get("/api/export/messages.json?platform=twitch", **auth)))) == []


def test_moderation_events_export(client, auth, small_chunks):
    src = source("twitch", "chan")
    for i in range(5):
        ModerationEvent.objects.create(
            source=src,
            platform="twitch",
            platform_event_id=f"e{i}",
            kind="ban" if i % 2 else "deletion",
            target_message_id=f"m{i}",
            target_text=f"=cmd{i}",
            moderator="-mod",
            occurred_at=T0 + timedelta(minutes=i),
        )
    rows = read_csv(b"".join(body_parts(client.get("/api/export/moderation-events.csv", **auth))))
    assert [row["platform_event_id"] for row in rows] == [f"e{i}" for i in range(5)]
    assert rows[0]["target_text"] == "'=cmd0" and rows[0]["moderator"] == "'-mod"
    bans = json.loads(
        b"".join(body_parts(client.get("/api/export/moderation-events.json?kind=ban", **auth)))
    )
    assert [b["platform_event_id"] for b in bans] == ["e1", "e3"]
    assert bans[0]["target_text"] == "=cmd1"  # JSON is data: verbatim
    later = client.get("/api/export/moderation-events.json?since=2026-11-01T12:03:00Z", **auth)
    assert [b["platform_event_id"] for b in json.loads(b"".join(body_parts(later)))] == ["e3", "e4"]


@pytest.mark.parametrize(
    "url, word",
    [
        ("/api/export/messages.xml", "fmt"),
        ("/api/export/messages.csv?status=bogus", "status"),
        ("/api/export/messages.json?since=nope", "since"),
        ("/api/export/moderation-events.csv?kind=kick", "kind"),
    ],
)
def test_export_bad_parameters(client, auth, url, word):
    r = client.get(url, **auth)
    assert r.status_code == 400 and word in r.json()["detail"]


def test_exports_need_a_moderator(client):
    assert client.get("/api/export/messages.csv").status_code == 401
    user = User.objects.create_user("viewer")
    _, key = ApiToken.issue(user)
    r = client.get("/api/export/messages.csv", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert r.status_code == 403


@pytest.fixture
def seeded_for_asgi(transactional_db):
    """Set up in the main thread (its connection is closed by pytest-django's teardown)."""
    seed_messages()
    return moderator_headers()


@pytest.mark.django_db(transaction=True)
async def test_export_streams_chunk_by_chunk_under_asgi(small_chunks, seeded_for_asgi):
    """Through the real ASGI app: several body messages, and no buffering warning from Django."""
    from pollsite.asgi import application

    headers = seeded_for_asgi
    comm = HttpCommunicator(
        application,
        "GET",
        "/api/export/messages.json",
        headers=[
            (b"host", b"127.0.0.1"),
            (b"authorization", headers["HTTP_AUTHORIZATION"].encode()),
        ],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await comm.send_input({"type": "http.request", "body": b""})
        start = await comm.receive_output(5)
        assert start["type"] == "http.response.start" and start["status"] == 200
        bodies = []
        while True:
            chunk = await comm.receive_output(5)
            assert chunk["type"] == "http.response.body", chunk
            bodies.append(chunk.get("body", b""))
            if not chunk.get("more_body"):
                break
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    assert len([b for b in bodies if b]) >= 4
    rows = json.loads(b"".join(bodies))
    assert [r["text"] for r in rows] == HOSTILE
    await comm.wait(1)
