"""Unauthenticated endpoints: public feeds (seed 004) with ETags, and health."""

import pytest
from django.contrib.auth.models import User

from ingest import api as api_module
from ingest.api import HealthPart
from ingest.models import ApiToken, ChatMessage, ChatSource
from ingest.services import update_message
from tests.factories import author, msg, source
from tests.test_api import save

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def feed():
    src = source(
        "slack", "C024BE91L", public=True, headline="Election night", description="Live Q&A"
    )
    hidden = source("slack", "CPRIVATE")
    save(*
        [
            msg(src, 1, text="first <b>sent</b>", who=author("U1", "ann", "Ann", avatar_url="https://a.example/ann.png")),
            msg(src, 2, text="still new"),
            msg(src, 3, text="sent then deleted"),
            msg(src, 4, text="second sent"),
            msg(hidden, 5, id="p5", text="private sent"),
        ]
    )
    ChatMessage.objects.filter(platform_message_id__in=["m1", "m3", "m4", "p5"]).update(
        status="sent"
    )
    ChatMessage.objects.filter(platform_message_id="m3").update(platform_state="deleted")
    return src, hidden


def test_public_feed_shows_only_published_messages(client, feed, settings):
    settings.PUBLIC_FEED_MAX_AGE = 30
    src, _ = feed
    r = client.get("/api/C024BE91L")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    body = r.json()
    assert body["headline"] == "Election night" and body["description"] == "Live Q&A"
    assert [m["text"] for m in body["messages"]] == ["second sent", "first <b>sent</b>"]
    first = body["messages"][1]
    assert first["author"] == {"name": "Ann", "avatar_url": "https://a.example/ann.png"}
    assert "status" not in first and "note" not in first  # moderation data stays private
    assert r["Access-Control-Allow-Origin"] == "*"
    assert r["Cache-Control"] == "public, max-age=30"

    by_id = client.get(f"/api/feeds/{src.pk}/")
    assert by_id.status_code == 200 and by_id.json() == body
    assert client.get("/api/C024BE91L/").json() == body
    assert [m["text"] for m in client.get("/api/C024BE91L?limit=1").json()["messages"]] == [
        "second sent"
    ]
    assert client.get("/api/C024BE91L?limit=0").status_code == 400


def test_public_feed_etag_and_304(client, feed):
    r = client.get("/api/C024BE91L")
    etag = r["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get("/api/C024BE91L", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert client.get("/api/C024BE91L", HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get("/api/C024BE91L", HTTP_IF_NONE_MATCH='"stale"').status_code == 200

    new = ChatMessage.objects.get(platform_message_id="m2")
    update_message(user=None, message_id=new.pk, changes={"status": "sent"}, via="api")
    changed = client.get("/api/C024BE91L", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "still new" in [m["text"] for m in changed.json()["messages"]]


def test_private_and_unknown_feeds_are_404(client, feed):
    _, hidden = feed
    for url in ("/api/CPRIVATE", f"/api/feeds/{hidden.pk}/", "/api/NOPE", "/api/feeds/99999/"):
        r = client.get(url)
        assert r.status_code == 404 and "feed" in r.json()["detail"], url
    ChatSource.objects.filter(pk=hidden.pk).update(public=True)
    assert [m["text"] for m in client.get("/api/CPRIVATE").json()["messages"]] == ["private sent"]


def test_feed_route_never_shadows_other_routes(client, feed):
    assert client.get("/api/messages/").status_code == 401  # not a feed named "messages"
    assert "sources" in client.get("/api/health/").json()
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Chorus API"
    assert client.get("/api/docs").status_code == 200
    user = User.objects.create_user("staff", is_staff=True)
    _, key = ApiToken.issue(user)
    r = client.get("/api/manage/messages/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert r.status_code == 200 and r.json() == []


# --- health -----------------------------------------------------------------------------------
@pytest.fixture
def only_source_health(monkeypatch):
    """Other features register their own checks; these tests judge the sources check alone."""
    monkeypatch.setattr(api_module, "health_contributors", [api_module.sources_health])


def test_health_ok_degraded_and_failed(client, only_source_health):
    r = client.get("/api/health/")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["sources"] == []

    a = source("twitch", "a", status="connected")
    source("youtube", "b", status="offline")
    source("demo", "c")  # idle
    source("slack", "d", status="failed", enabled=False, status_reason="token revoked")
    r = client.get("/api/health/")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok" and body["checks"] == {"sources": "ok"}
    assert {s["identifier"]: s["health"] for s in body["sources"]} == {
        "a": "ok",
        "b": "ok",
        "c": "ok",
        "d": "disabled",
    }
    row = next(s for s in body["sources"] if s["identifier"] == "d")
    assert {"id", "platform", "status", "status_reason", "status_changed_at", "last_event_at", "worker"} <= set(row)
    assert row["status_reason"] == "token revoked"

    ChatSource.objects.filter(pk=a.pk).update(status="retrying", status_reason="timeout")
    r = client.get("/api/health/")
    assert r.status_code == 200 and r.json()["status"] == "degraded"

    ChatSource.objects.filter(pk=a.pk).update(
        status="failed", status_reason="bad credentials", status_worker="host-1:42"
    )
    r = client.get("/api/health/")
    assert r.status_code == 503 and r.json()["status"] == "failed"
    failed = next(s for s in r.json()["sources"] if s["identifier"] == "a")
    assert failed["health"] == "failed" and failed["worker"] == "host-1:42"
    assert failed["status_reason"] == "bad credentials"


def test_health_contributors_extend_the_report(client, only_source_health):

    def quota_health():
        return HealthPart("quota", "ok", {"youtube": {"units_left": 9000}})

    api_module.register_health_contributor(quota_health)
    body = client.get("/api/health/").json()
    assert body["quota"] == {"youtube": {"units_left": 9000}}
    assert body["checks"] == {"sources": "ok", "quota": "ok"}

    def broken_health():
        raise RuntimeError("secret connection string")

    api_module.register_health_contributor(broken_health)
    r = client.get("/api/health/")
    assert r.status_code == 503 and r.json()["checks"]["broken"] == "failed"
    assert "secret" not in r.content.decode()
