"""Replay archive: listing with filters, range requests for seeking, download, delete."""

import pytest
from django.contrib.auth.models import Group, User

from bots.models import Clip
from tests.factories import source

pytestmark = pytest.mark.django_db


@pytest.fixture
def mod_client(client):
    user = User.objects.create_user("mod")
    user.groups.add(Group.objects.get_or_create(name="moderator")[0])
    client.force_login(user)
    return client


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "Zoë-K_clip_2026-11-22_04-05-06.mkv"
    path.write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    return Clip.objects.create(
        author="Zoë K.",
        keyword="clip",
        text="<b>clip</b> it",
        path=str(path),
        size_bytes=10240,
        source=source(),
    )


def test_list_filters_and_escapes(mod_client, clip, tmp_path):
    Clip.objects.create(author="bob", keyword="replay", path=str(tmp_path / "x.mkv"))
    html = mod_client.get("/bots/clips/?keyword=clip").content.decode()
    assert "Zoë K." in html and "bob" not in html
    assert "&lt;b&gt;clip&lt;/b&gt;" in html and "<b>clip</b>" not in html
    assert "bob" in mod_client.get("/bots/clips/?author=bo").content.decode()


def test_range_requests_let_the_player_seek(mod_client, clip):
    full = mod_client.get(f"/bots/clips/{clip.pk}/media")
    assert full.status_code == 200 and full["Accept-Ranges"] == "bytes"
    assert b"".join(full.streaming_content) == bytes(range(256)) * 40
    part = mod_client.get(f"/bots/clips/{clip.pk}/media", HTTP_RANGE="bytes=256-511")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 256-511/10240"
    assert b"".join(part.streaming_content) == bytes(range(256))
    tail = mod_client.get(f"/bots/clips/{clip.pk}/media", HTTP_RANGE="bytes=-10")
    assert tail["Content-Range"] == "bytes 10230-10239/10240"
    bad = mod_client.get(f"/bots/clips/{clip.pk}/media", HTTP_RANGE="bytes=99999-")
    assert bad.status_code == 416 and bad["Content-Range"] == "bytes */10240"


def test_download_and_delete(mod_client, clip):
    dl = mod_client.get(f"/bots/clips/{clip.pk}/media?download=1")
    assert "attachment" in dl["Content-Disposition"]
    assert mod_client.get(f"/bots/clips/{clip.pk}/delete").status_code == 405
    resp = mod_client.post(f"/bots/clips/{clip.pk}/delete")
    assert resp.status_code == 302
    assert not Clip.objects.exists()
    import os

    assert not os.path.exists(clip.path)


def test_plain_users_and_anonymous_are_kept_out(client, clip):
    assert client.get("/bots/clips/").status_code == 302  # to login
    client.force_login(User.objects.create_user("plain"))
    assert client.get("/bots/clips/").status_code == 403
    assert client.get(f"/bots/clips/{clip.pk}/media").status_code == 403


def test_obs_page_lists_connections_without_their_password(mod_client):
    from bots.models import ObsConnection

    ObsConnection.objects.create(
        name="studio <1>",
        secrets={"password": "hunter2-secret"},
        status="error",
        status_reason="authentication failed",
    )
    html = mod_client.get("/bots/obs/").content.decode()
    assert "studio &lt;1&gt;" in html and "authentication failed" in html
    assert "hunter2-secret" not in html
