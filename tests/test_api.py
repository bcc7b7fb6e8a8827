"""The HTTP API: auth, message list + cursor paging, mark-sent, display manager, errors, docs."""

import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from ingest.models import (
    ApiToken,
    ChatAuthor,
    ChatMessage,
    ChatSource,
    LiveSession,
    MessageAction,
)
from tests.factories import author, msg, source
from tests.ws import connect, receive, receive_until

pytestmark = [pytest.mark.django_db]


def make_user(name, *, staff=False, groups=(), active=True):
    user = User.objects.create_user(name, is_staff=staff, is_active=active)
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


def bearer(user):
    _, key = ApiToken.issue(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def mod():
    return make_user("mod", groups=["moderator"])


@pytest.fixture
def auth(mod):
    return bearer(mod)


def save(*events) -> list[ChatMessage]:
    """Write ChatEvents with the ORM: the API tests do not depend on the batched store."""
    rows = []
    for ev in events:
        who = None
        if ev.author:
            who, _ = ChatAuthor.objects.update_or_create(
                platform=ev.platform,
                platform_user_id=ev.author.id,
                defaults={
                    "login": ev.author.login,
                    "display_name": ev.author.display_name,
                    "avatar_url": ev.author.avatar_url,
                },
            )
        rows.append(
            ChatMessage.objects.create(
                source_id=ev.source_id,
                platform=ev.platform,
                platform_message_id=ev.id,
                kind=str(ev.kind),
                author=who,
                text=ev.text,
                sent_at=ev.sent_at,
                received_at=ev.sent_at,
            )
        )
    return rows


def stored(src, n, **kw):
    return save(msg(src, n, **kw))[0]


# --- auth -------------------------------------------------------------------------------------
def test_requests_without_valid_credentials_are_refused(client, mod):
    r = client.get("/api/messages/")
    assert r.status_code == 401
    assert "Bearer" in r.json()["detail"] and r["WWW-Authenticate"].startswith("Bearer")

    r = client.get("/api/messages/", HTTP_AUTHORIZATION="Bearer chorus_nope_nope")
    assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked API token"

    token, key = ApiToken.issue(mod)
    assert client.get("/api/messages/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    call_command("revoke_api_token", token.prefix)
    r = client.get("/api/messages/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert r.status_code == 401

    gone = make_user("gone", groups=["moderator"])
    headers = bearer(gone)
    gone.is_active = False
    gone.save()
    assert client.get("/api/messages/", **headers).status_code == 401

    # An unauthenticated POST is a 401, not a CSRF 403.
    assert client.post("/api/messages/1/mark-sent/").status_code == 401


def test_token_of_a_user_without_the_role_is_forbidden(client):
    plain = bearer(make_user("viewer"))
    r = client.get("/api/messages/", **plain)
    assert r.status_code == 403 and "moderator" in r.json()["detail"]
    assert client.post("/api/manage/reorder/", {"order": []}, **plain).status_code == 403
    me = client.get("/api/me/", **plain).json()
    assert me["username"] == "viewer" and me["is_moderator"] is False and me["auth"] == "token"
    staff = bearer(make_user("boss", staff=True))
    assert client.get("/api/messages/", **staff).status_code == 200


def test_session_auth_needs_csrf_on_unsafe_methods(mod):
    src = source()
    m = stored(src, 1)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(mod)
    assert browser.get("/api/messages/").status_code == 200  # GET needs no CSRF token

    r = browser.post(f"/api/messages/{m.pk}/mark-sent/")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert ChatMessage.objects.get(pk=m.pk).status == "new"

    browser.get("/api/docs")  # any page rendering {% csrf_token %} sets the cookie
    token = browser.cookies["csrftoken"].value
    r = browser.post(
        f"/api/messages/{m.pk}/mark-sent/",
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN="https://evil.example",
    )
    assert r.status_code == 403  # right token, foreign page: refused
    r = browser.post(f"/api/messages/{m.pk}/mark-sent/", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200 and r.json()["status"] == "sent"
    assert browser.get("/api/me/").json()["auth"] == "session"

    plain = Client(enforce_csrf_checks=True)
    plain.force_login(make_user("viewer"))
    assert plain.get("/api/messages/").status_code == 403


# --- list + filters + paging ------------------------------------------------------------------
@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=9999", "limit"),
        ("since=yesterday", "since"),
        ("status=bogus", "status"),
        ("platform=myspace", "platform"),
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
        ("source=99999999999999999999999", "source"),
        ("text=a%00b", "text"),
        ("cursor=%C2%B2", "cursor"),  # "²" is a Unicode digit that int() refuses
        ("source=%C2%B2", "source"),
        ("since=9999-12-31T23:59:59-01:00", "since"),
    ],
)
def test_bad_parameters_are_400_with_a_clear_message(client, auth, query, field):
    r = client.get(f"/api/messages/?{query}", **auth)
    assert r.status_code == 400, r.content
    detail = r.json()["detail"]
    assert isinstance(detail, str) and field in detail
    value = query.split("=", 1)[1]
    if "%" not in value:
        assert value in detail  # the message quotes what was wrong


def test_pagination_returns_every_message_exactly_once(client, auth):
    src = source()
    save(*[msg(src, i, text=f"t{i}") for i in range(1, 24)])
    save(*[msg(src, 100, id="reviewed-one")])
    ChatMessage.objects.filter(platform_message_id="reviewed-one").update(status="reviewed")
    url, seen, pages = "/api/messages/?status=new&limit=5", [], 0
    while url:
        r = client.get(url, **auth)
        assert r.status_code == 200
        body = r.json()
        assert isinstance(body, list) and len(body) <= 5
        seen += [m["id"] for m in body]
        pages += 1
        link = r.headers.get("Link")
        if link:
            url = re.match(r'<([^>]+)>; rel="next"', link).group(1)
            assert "status=new" in url and f"cursor={r['X-Next-Cursor']}" in url
        else:
            assert "X-Next-Cursor" not in r.headers
            url = None
    expected = list(
        ChatMessage.objects.filter(status="new").order_by("-id").values_list("id", flat=True)
    )
    assert seen == expected and len(seen) == 23 and pages == 5


def test_list_filters_and_seed000_aliases(client, auth):
    yt = source("youtube", "dQw4w9WgXcQ")
    tw = source("twitch", "somechannel")
    live = LiveSession.objects.create(source=tw, platform_session_id="stream-42")
    save(*[msg(yt, 1, text="from yt", who=author("UC123", "bob", "Bob"))])
    save(*[msg(tw, 2, text="from tw"), msg(tw, 3, text="no session")])
    ChatMessage.objects.filter(platform_message_id="m2").update(session=live)

    rows = client.get("/api/messages/?platform=youtube", **auth).json()
    assert len(rows) == 1
    m = rows[0]
    assert m["message"] == m["text"] == "from yt"
    assert m["author_name"] == "Bob" and m["author_channel_id"] == "UC123"
    assert m["published_at"] == m["sent_at"] and m["video_id"] == "dQw4w9WgXcQ"
    assert m["author"]["login"] == "bob" and m["status"] == "new"

    by_video = client.get("/api/messages/?video_id=stream-42", **auth).json()
    assert [r["text"] for r in by_video] == ["from tw"] and by_video[0]["video_id"] == "stream-42"
    rows = {r["text"]: r for r in client.get(f"/api/messages/?source={tw.pk}", **auth).json()}
    assert set(rows) == {"from tw", "no session"} and rows["no session"]["video_id"] is None
    assert len(client.get("/api/messages/?source=somechannel", **auth).json()) == 2

    # since: aware, naive (server time zone, as seed 000) and an unencoded "+" all work.
    assert len(client.get("/api/messages/?since=2026-11-01T12:00:02Z", **auth).json()) == 2
    assert len(client.get("/api/messages/?since=2026-11-01T12:00:02", **auth).json()) == 2
    r = client.get("/api/messages/?since=2026-11-01T13:00:03+01:00", **auth)
    assert r.status_code == 200 and len(r.json()) == 1


# --- mark-sent ------------------------------------------------------------------------------------
def test_mark_sent_accepts_form_and_json_and_records_who(client, mod, auth):
    src = source()
    a, b = stored(src, 1), stored(src, 2)
    r = client.post(f"/api/messages/{a.pk}/mark-sent/", {"note": "sent to CRM"}, **auth)
    assert r.status_code == 200
    assert r.json()["status"] == "sent" and r.json()["note"] == "sent to CRM"
    assert r.json()["reviewed_by"] == "mod"
    r = client.post(
        f"/api/messages/{b.pk}/mark-sent/",
        json.dumps({"note": "via json"}),
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 200 and r.json()["note"] == "via json"
    b.refresh_from_db()
    assert b.status == "sent" and b.reviewed_by == mod and b.reviewed_at is not None
    action = MessageAction.objects.get(message=b)
    assert action.via == "api" and action.user == mod
    assert action.changes == {"status": ["new", "sent"], "note": ["", "via json"]}
    assert client.get("/api/messages/?status=sent", **auth).json()[0]["id"] == b.pk


def test_mark_sent_errors(client, auth):
    m = stored(source(), 1)
    r = client.post("/api/messages/999999/mark-sent/", **auth)
    assert r.status_code == 404 and "999999" in r.json()["detail"]
    r = client.post(
        f"/api/messages/{m.pk}/mark-sent/", "{not json", content_type="application/json", **auth
    )
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = client.post(f"/api/messages/{m.pk}/mark-sent/", {"note": "x" * 5000}, **auth)
    assert r.status_code == 400 and "note" in r.json()["detail"]
    assert ChatMessage.objects.get(pk=m.pk).status == "new"
    r = client.get(f"/api/messages/{m.pk}/mark-sent/", **auth)
    assert r.status_code == 405


@pytest.fixture
def live_setup(transactional_db):
    """Set up in the main thread (its connection is closed by pytest-django's teardown)."""
    mod = make_user("mod", groups=["moderator"])
    return mod, bearer(mod), stored(source(), 1)


@pytest.mark.django_db(transaction=True)
async def test_mark_sent_reaches_moderation_dashboards(live_setup):
    mod, headers, m = live_setup
    dash, ok, _ = await connect("/ws/moderation/", mod)
    assert ok
    await receive(dash)
    client = Client()
    r = await sync_to_async(client.post)(f"/api/messages/{m.pk}/mark-sent/", **headers)
    assert r.status_code == 200
    frame = await receive_until(dash, "message.updated")
    assert frame["by"] == "mod" and frame["changes"] == {"status": "sent"}
    assert frame["message"]["id"] == m.pk
    await dash.disconnect()


def test_hostile_input_is_a_4xx_never_a_500(client, auth):
    m = stored(source(), 1)
    huge = "9" * 25
    cases = [
        ("post", f"/api/messages/{huge}/mark-sent/", {}),
        ("post", f"/api/messages/{m.pk}/mark-sent/", {"note": "a\x00b"}),
        ("post", "/api/manage/reorder/", {"order": [int(huge)]}),
        ("post", "/api/manage/update_rotation/", {"seconds": 5, "source": huge}),
        ("post", "/api/manage/update_rotation/", {"seconds": 5, "source": "x\x00"}),
        ("get", f"/api/feeds/{huge}/", None),
        ("get", "/api/%00", None),
        ("get", f"/api/export/messages.csv?source={huge}", None),
        ("get", "/api/export/moderation-events.json?platform=%00", None),
        ("post", "/api/manage/reorder/", {"order": [1] * 1_000_000}),  # > 2.5 MB body
    ]
    for method, url, data in cases:
        if method == "post":
            r = client.post(url, json.dumps(data), content_type="application/json", **auth)
        else:
            r = client.get(url, **auth)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.content[:200])
        assert r.json()["detail"], url
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in r.json()["detail"]  # the last case: body too big
    assert ChatMessage.objects.get(pk=m.pk).status == "new"


# --- display manager --------------------------------------------------------------------------
def test_display_manager_reorder_and_rotation(client, auth):
    a = source("demo", "a")
    b = source("slack", "C0B")
    ms = [stored(a, i) for i in range(1, 4)]
    ChatMessage.objects.filter(pk__in=[m.pk for m in ms]).update(display_selected=True)
    for i, m in enumerate(ms):
        ChatMessage.objects.filter(pk=m.pk).update(display_order=i + 1)
    other = stored(a, 9)

    listed = client.get("/api/manage/messages/", **auth).json()
    assert [m["id"] for m in listed] == [m.pk for m in ms]
    order = [ms[2].pk, ms[0].pk, ms[1].pk]
    r = client.post(
        "/api/manage/reorder/", json.dumps({"order": order}), content_type="application/json", **auth
    )
    assert r.status_code == 200 and r.json()["order"] == order
    listed = client.get("/api/manage/messages/", **auth).json()
    assert [m["id"] for m in listed] == order
    assert [m["display_order"] for m in listed] == [1, 2, 3]

    r = client.post(
        "/api/manage/reorder/",
        json.dumps({"order": [other.pk]}),
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 400 and str(other.pk) in r.json()["detail"]
    r = client.post(
        "/api/manage/reorder/", json.dumps({"order": "x"}), content_type="application/json", **auth
    )
    assert r.status_code == 400 and "order" in r.json()["detail"]

    r = client.post("/api/manage/update_rotation/", {"seconds": "15"}, **auth)
    assert r.status_code == 200 and sorted(r.json()["sources"]) == sorted([a.pk, b.pk])
    assert set(ChatSource.objects.values_list("display_rotation_seconds", flat=True)) == {15}
    r = client.post(
        "/api/manage/update_rotation/",
        json.dumps({"seconds": 30, "source": "C0B"}),
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 200 and r.json()["sources"] == [b.pk]
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.display_rotation_seconds, b.display_rotation_seconds) == (15, 30)
    for bad in ("0", "-3", "abc", "1.5", "", "999999"):
        r = client.post("/api/manage/update_rotation/", {"seconds": bad}, **auth)
        assert r.status_code == 400 and "seconds" in r.json()["detail"], bad
    r = client.post("/api/manage/update_rotation/", {"seconds": "5", "source": "nope"}, **auth)
    assert r.status_code == 404
    assert set(ChatSource.objects.values_list("display_rotation_seconds", flat=True)) == {15, 30}


# --- errors, OpenAPI, docs --------------------------------------------------------------------
def test_unknown_paths_are_json_404(client, auth):
    r = client.get("/api/no/such/thing", **auth)
    assert r.status_code == 404 and "no API endpoint" in r.json()["detail"]
    r = client.get("/api/health")
    assert r.status_code == 404 and "/api/health/" in r.json()["detail"]


def test_openapi_lists_the_endpoints(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for p in (
        "/api/messages/",
        "/api/messages/{message_id}/mark-sent/",
        "/api/manage/messages/",
        "/api/manage/reorder/",
        "/api/manage/update_rotation/",
        "/api/export/messages.{fmt}",
        "/api/export/moderation-events.{fmt}",
        "/api/health/",
        "/api/feeds/{source_id}/",
        "/api/{identifier}",
    ):
        assert p in paths, p
    assert "post" in paths["/api/messages/{message_id}/mark-sent/"]
    body = paths["/api/manage/update_rotation/"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
    assert {"ApiTokenAuth", "SessionCsrfAuth"} <= set(schema["components"]["securitySchemes"])


def test_docs_use_local_static_files(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert '/static/ninja/swagger-ui-bundle.js"' in html
    assert "cdn" not in html.lower() and "https://" not in html
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        res = client.get(path)
        assert res.status_code == 200, path
        body = b"".join(res.streaming_content) if res.streaming else res.content
        assert len(body) > 1000, path


@pytest.mark.django_db
def test_rotation_and_display_list_per_meeting():
    from overlays.models import DisplaySettings
    from polls.models import Meeting

    user = User.objects.create_user("svc-rot", is_staff=True)
    _, key = ApiToken.issue(user)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    c = Client()
    src_a = ChatSource.objects.create(platform="demo", identifier="rot-a")
    src_b = ChatSource.objects.create(platform="demo", identifier="rot-b")
    m1, m2 = Meeting.objects.create(title="one"), Meeting.objects.create(title="two")
    m1.sources.add(src_a)
    m2.sources.add(src_b)
    r = c.post("/api/manage/update_rotation/", {"seconds": 12, "meeting": m1.pk}, **auth)
    assert r.status_code == 200, r.content
    assert DisplaySettings.objects.get(meeting=m1).rotation_seconds == 12
    assert not DisplaySettings.objects.filter(meeting=m2, rotation_seconds=12).exists()
    r = c.post("/api/manage/update_rotation/", {"seconds": 20}, **auth)
    assert {d.rotation_seconds for d in DisplaySettings.objects.all()} == {20}
    assert c.post("/api/manage/update_rotation/", {"seconds": 5000}, **auth).status_code == 400
    assert c.post("/api/manage/update_rotation/", {"seconds": 5, "meeting": 99999}, **auth).status_code == 404
    assert c.get("/api/manage/messages/?meeting=99999", **auth).status_code == 404
