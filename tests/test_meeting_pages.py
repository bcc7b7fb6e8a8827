"""Meeting pages: host-only access, creation with a random code, duplicate, exports, QR, join."""

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from ingest.models import ChatSource
from polls import services as svc
from polls.models import Meeting
from polls.models import QuestionKind as K
from tests.meetings import standard

pytestmark = pytest.mark.django_db


@pytest.fixture
def host(client):
    user = User.objects.create_user("h", password="x" * 20)
    user.groups.add(Group.objects.get_or_create(name="host")[0])
    client.force_login(user)
    return client


def test_host_pages_need_the_host_role(client):
    m = standard()
    for url in ("/host/", f"/host/{m.pk}/", f"/host/{m.pk}/scores.csv"):
        assert client.get(url).status_code == 302  # to login
    plain = User.objects.create_user("plain", password="x" * 20)
    client.force_login(plain)
    assert client.get("/host/").status_code == 403
    assert client.get(f"/host/{m.pk}/results.csv").status_code == 403


def test_create_meeting_gets_a_random_code_and_sources(host):
    src = ChatSource.objects.create(platform="twitch", identifier="c")
    resp = host.post(
        "/host/",
        {
            "title": "Town hall",
            "description": "*hi*",
            "sources": [src.pk],
            "scoring_mode": "classic",
            "points_correct": 1,
            "first_correct_bonus": 1,
            "timed_max_points": 1000,
            "timed_window_seconds": 20,
            "streak_bonus": 0,
            "allow_vote_change": "on",
            "chat_prefix": "#",
            "flag_command": "!flag",
            "flag_prefix": "FLAG",
        },
    )
    assert resp.status_code == 302, resp.content
    m = Meeting.objects.get(title="Town hall")
    assert len(m.join_code) == 6 and list(m.sources.all()) == [src]
    other = Meeting.objects.create(title="x")
    assert other.join_code != m.join_code


def test_dashboard_shows_qr_join_url_and_escapes_markdown_html(host):
    m = standard(description="<img src=x onerror=alert(1)> **bold**")
    page = host.get(f"/host/{m.pk}/").content.decode()
    assert "<svg" in page and f"/join/?code={m.join_code}" in page
    assert "<img src=x" not in page and "<strong>bold</strong>" in page
    assert "vendor/anychart/anychart-base.min.js" in page and "cdn" not in page.lower()


def test_duplicate_and_csv_exports(host):
    m = standard()
    svc.apply_command(m.pk, "goto", m.questions.get(kind=K.POLL).pk)
    a, _ = svc.join(m, "=cmd|' /C calc'!A0")
    b, _ = svc.join(m, "bob")
    red = m.questions.get(kind=K.POLL).choices.get(text="Red")
    svc.record_answers(
        red.question_id, [svc.Answer(a.pk, choice_id=red.pk), svc.Answer(b.pk, choice_id=red.pk)]
    )
    svc.check_flag(m.pk, b.pk, "s3cret")
    rows = list(csv.reader(io.StringIO(host.get(f"/host/{m.pk}/scores.csv").content.decode())))
    assert rows[0][:2] == ["rank", "nickname"]
    assert rows[1][1] == "bob" and rows[1][4] == "15"
    assert rows[2][1].startswith("'=")  # no formula injection in spreadsheets
    rows = list(csv.reader(io.StringIO(host.get(f"/host/{m.pk}/results.csv").content.decode())))
    assert ["1", "poll", "Favourite colour?", "A", "Red", "False", "2"] in rows
    resp = host.post(f"/host/{m.pk}/duplicate/")
    copy = Meeting.objects.exclude(pk=m.pk).get()
    assert resp.url == f"/host/{copy.pk}/" and copy.questions.count() == 5


def test_join_page_prefills_code_and_qr_svg(client):
    m = standard()
    page = client.get(f"/join/?code={m.join_code.lower()}").content.decode()
    assert f'value="{m.join_code}"' in page
    assert "No meeting" in client.get("/join/?code=ZZZZZZ").content.decode()
    resp = client.get(f"/join/{m.join_code}/qr.svg")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/svg+xml"
    assert client.get("/join/NOPE/qr.svg").status_code == 404


def test_seed_demo_creates_a_meeting_attached_to_the_demo_chat(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    m = Meeting.objects.get()
    assert f"/join/?code={m.join_code}" in out
    assert m.sources.get().identifier == "demo"
    assert {q.kind for q in m.questions.all()} == {"text", "poll", "quiz", "wordcloud", "rating"}
    assert m.flags.count() == 1
    call_command("seed_demo")
    codes = set(Meeting.objects.values_list("join_code", flat=True))
    assert len(codes) == 2  # random, never a fixed default


def test_host_adds_questions_from_the_dashboard(host):
    m = standard()
    resp = host.post(
        f"/host/{m.pk}/questions/",
        {
            "kind": "quiz",
            "text": "Capital of France?",
            "choices": "Lyon\n*Paris\n\nNice",
            "timer_seconds": 20,
        },
    )
    assert resp.status_code == 302
    q = m.questions.last()
    assert q.text == "Capital of France?" and q.order == 5 and q.timer_seconds == 20
    assert [(c.text, c.is_correct) for c in q.choices.all()] == [
        ("Lyon", False),
        ("Paris", True),
        ("Nice", False),
    ]
    # A quiz without a correct choice is refused with a clear message.
    resp = host.post(
        f"/host/{m.pk}/questions/", {"kind": "quiz", "text": "?", "choices": "a\nb"}, follow=True
    )
    assert "Mark at least one correct choice" in resp.content.decode()
    assert m.questions.count() == 6
    host.post(f"/host/{m.pk}/questions/", {"kind": "rating", "text": "Rate", "rating_max": 10})
    assert m.questions.last().rating_max == 10
    # Word clouds: entries per participant and the word lengths are set when adding.
    host.post(
        f"/host/{m.pk}/questions/",
        {"kind": "wordcloud", "text": "One word", "max_words": 2, "min_word_length": 3,
         "max_word_length": 12},
    )
    wc = m.questions.last()
    assert (wc.max_words, wc.min_word_length, wc.max_word_length) == (2, 3, 12)
    resp = host.post(
        f"/host/{m.pk}/questions/",
        {"kind": "wordcloud", "text": "?", "min_word_length": 9, "max_word_length": 4},
        follow=True,
    )
    assert "cannot be longer" in resp.content.decode() and m.questions.count() == 8


def test_a_read_only_second_host_cannot_change_the_meeting_through_the_forms(host):
    m = standard()
    other = User.objects.create_user("in-control", password="x" * 20)
    other.groups.add(Group.objects.get(name="host"))
    Meeting.objects.filter(pk=m.pk).update(controller=other)
    before = m.questions.count()
    resp = host.post(
        f"/host/{m.pk}/questions/", {"kind": "rating", "text": "Sneaky", "rating_max": 5},
        follow=True,
    )
    assert "Read-only: another host controls this meeting" in resp.content.decode()
    assert m.questions.count() == before
    resp = host.post(
        f"/host/{m.pk}/window/", {"starts_at": "2030-01-01T10:00", "ends_at": ""}, follow=True
    )
    assert "Read-only" in resp.content.decode()
    m.refresh_from_db()
    assert m.starts_at is None
    # Once the other host lets go (nobody in control), the forms work again.
    Meeting.objects.filter(pk=m.pk).update(controller=None)
    host.post(f"/host/{m.pk}/questions/", {"kind": "rating", "text": "Fine", "rating_max": 5})
    assert m.questions.count() == before + 1


def test_window_on_the_join_page_and_the_dashboard_and_changed_from_the_dashboard(host, client):
    from datetime import timedelta

    from django.utils import timezone

    opens = timezone.now() + timedelta(days=1)
    m = standard(starts_at=opens)
    page = client.get(f"/join/?code={m.join_code}").content.decode()
    assert 'id="opens-at"' in page and opens.strftime("%Y-%m-%d %H:%M") in page
    assert 'datetime="' + opens.strftime("%Y-%m-%dT%H:%M:%S") in page  # shown in local time
    open_now = standard()
    page = client.get(f"/join/?code={open_now.join_code}").content.decode()
    assert 'id="opens-at" class="banner" hidden' in page
    dash = host.get(f"/host/{m.pk}/").content.decode()
    assert "opens " + opens.strftime("%Y-%m-%d %H:%M") in dash and 'id="window-form"' in dash
    # The end before the start is refused with the model's message; a valid window is saved.
    resp = host.post(
        f"/host/{m.pk}/window/",
        {"starts_at": "2030-05-01T15:00", "ends_at": "2030-05-01T14:00"},
        follow=True,
    )
    assert "the end must be after the start" in resp.content.decode()
    version = Meeting.objects.get(pk=m.pk).version
    host.post(f"/host/{m.pk}/window/", {"starts_at": "", "ends_at": "2030-05-01T16:00"})
    fresh = Meeting.objects.get(pk=m.pk)
    assert fresh.starts_at is None and fresh.ends_at.hour == 16 and fresh.version == version + 1
    assert "ends 2030-05-01 16:00" in host.get(f"/host/{m.pk}/").content.decode()
