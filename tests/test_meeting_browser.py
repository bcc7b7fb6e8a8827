"""A meeting in a real browser: two participants join by code and vote, the host dashboard shows
the counts; then viewers vote from stream chat (replay source -> pipeline -> polls.chat listener)
and the same dashboard counts them. Server: the real ASGI app under uvicorn (see
tests/test_dashboard_browser.py for the LiveServer harness reused here)."""

from __future__ import annotations

import json

import pytest

from tests.test_dashboard_browser import LiveServer, message

pytestmark = [pytest.mark.browser]
WAIT_MS = 15_000

SETUP = r"""
import json
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from ingest.models import ChatSource
from polls.models import Choice, Meeting, Question

host = User.objects.create_user("host", password="unused-" + "x" * 20)
host.groups.add(Group.objects.get_or_create(name="host")[0])
c = Client()
c.force_login(host)
src = ChatSource.objects.create(
    platform="replay", identifier="meeting-show", name="Meeting show",
    settings={"path": "chat.jsonl", "follow": True, "poll_seconds": 0.05},
)
m = Meeting.objects.create(title="Browser meeting <b>")
m.sources.add(src)
q = Question.objects.create(meeting=m, order=0, kind="poll", text="Favourite colour?")
for i, t in enumerate(["Red", "Green", "Blue"]):
    Choice.objects.create(question=q, order=i, text=t)
from polls.models import Flag
from polls.services import apply_command
ctf = Meeting.objects.create(title="CTF")
Flag.objects.create(meeting=ctf, name="Poster", code="p0ster", points=10, first_blood_bonus=5)
apply_command(ctf.pk, "start")
wc = Meeting.objects.create(title="Words")
Question.objects.create(meeting=wc, order=0, kind="wordcloud", text="One word?", max_words=2)
Question.objects.create(meeting=wc, order=1, kind="rating", text="Rate it", rating_max=5)
from polls.models import Participant
desc = Meeting.objects.create(title="Described",
                              description="**Town** hall <script>alert(1)</script>")
dq = Question.objects.create(meeting=desc, order=0, kind="poll", text="Pick one",
                             description="Pick **bold** <script>alert(1)</script>")
for i, t in enumerate(["Yes", "No"]):
    Choice.objects.create(question=dq, order=i, text=t)
Participant.objects.create(meeting=desc, nickname="<i>Streamer</i>", platform="twitch",
                           platform_user_id="tw1", score=5)
print(json.dumps({"wc": wc.pk, "wc_code": wc.join_code,
                  "desc": desc.pk, "desc_code": desc.join_code,
                  "cookie_name": settings.SESSION_COOKIE_NAME,
                  "host": c.cookies[settings.SESSION_COOKIE_NAME].value,
                  "meeting": m.pk, "code": m.join_code, "ctf": ctf.pk, "ctf_code": ctf.join_code}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("meet"))
    srv.info = json.loads(srv.django(SETUP).strip().splitlines()[-1])
    srv.start()
    yield srv
    srv.stop()


def count_of(page, label):
    row = page.locator("#counts tr", has=page.locator("td", has_text=label)).first
    return row.locator("td.count")


def test_two_participants_vote_and_chat_votes_reach_the_host_dashboard(server, browser):
    info = server.info
    host_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    host_ctx.add_cookies([{"name": info["cookie_name"], "value": info["host"], "url": server.url}])
    host = host_ctx.new_page()
    errors = []
    host.on("pageerror", lambda e: errors.append(str(e)))
    assert host.goto(f"{server.url}/host/{info['meeting']}/").status == 200
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)
    assert host.locator("#title").inner_text() == "Browser meeting <b>"  # escaped, not markup
    assert host.locator(".qr svg").count() >= 1

    people = []
    for name in ("Ann", "Ben"):
        ctx = browser.new_context()
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/join/?code={info['code']}")
        assert page.locator("#code").input_value() == info["code"]  # pre-filled (QR link)
        page.fill("#nickname", name)
        page.click("#join-form button[type=submit]")
        page.wait_for_selector("#meeting:not([hidden])", timeout=WAIT_MS)
        assert page.locator("#me-name").inner_text() == name
        assert "not started" in page.locator("#stage").inner_text()
        people.append((ctx, page))
    host.wait_for_selector("#participants:text('2')", timeout=WAIT_MS)

    host.click("button[data-cmd='meeting.start']")
    host.wait_for_selector("#state[data-state='waiting']", timeout=WAIT_MS)
    host.click("button[data-cmd='question.next']")
    host.wait_for_selector("#state[data-state='ongoing']", timeout=WAIT_MS)
    ann, ben = people[0][1], people[1][1]
    for page, choice in ((ann, "Red"), (ben, "Green")):
        page.locator(".choices button", has_text=choice).click()
        page.wait_for_selector("#answer-status:text('Answer recorded')", timeout=WAIT_MS)
    # Ann changes her mind (allowed for polls until they close).
    ann.locator(".choices button", has_text="Green").click()
    ann.wait_for_selector("#answer-status:text('Answer changed')", timeout=WAIT_MS)
    # Ann's change keeps the total at 2: wait for the counts themselves.
    host.wait_for_function(
        """() => [...document.querySelectorAll('#counts tr')].some(
            tr => tr.textContent.includes('Green') && tr.querySelector('td.count').textContent === '2')""",
        timeout=WAIT_MS,
    )
    assert host.locator("#answers").inner_text() == "2"
    assert count_of(host, "Red").inner_text() == "0"
    assert count_of(host, "Green").inner_text() == "2"
    assert host.locator("#chart svg").count() >= 1  # AnyChart drew the live chart

    # Reload: same identity and answer, from the resume token.
    ann.reload()
    ann.wait_for_selector("#meeting:not([hidden])", timeout=WAIT_MS)
    assert ann.locator("#me-name").inner_text() == "Ann"
    ann.wait_for_selector(".choices button.selected:has-text('Green')", timeout=WAIT_MS)

    # Votes from stream chat, through the replay adapter and the pipeline listener.
    server.chat(
        message("#C", who=("t1", "viewer1", "Viewer One")),
        message("#blue", who=("t2", "viewer2", "Viewer Two")),
        message("<img src=x onerror=alert(1)> hello", who=("t3", "v3", "V3")),
    )
    host.wait_for_function(
        "() => document.querySelector('#answers').textContent === '4'", timeout=WAIT_MS
    )
    assert count_of(host, "Blue").inner_text() == "2"
    host.wait_for_selector("#chat li:has-text('onerror')", timeout=WAIT_MS)
    assert host.locator("#chat img").count() == 0  # chat text shown as text
    host.wait_for_selector("#participants:text('4')", timeout=WAIT_MS)

    # Results for everyone; the participant page shows the counts.
    host.click("button[data-cmd='show.results']")
    ben.wait_for_selector("#stage[data-state='results']", timeout=WAIT_MS)
    assert "Green — 2" in ben.locator("#stage").inner_text()
    host.click("button[data-cmd='show.scoreboard']")
    ben.wait_for_selector("#stage[data-state='scoreboard']", timeout=WAIT_MS)
    host.click("button[data-cmd='question.next']")  # end of the plan: closing state
    ben.wait_for_selector("#stage[data-state='after']", timeout=WAIT_MS)
    assert errors == []
    for ctx, _ in people:
        ctx.close()
    host_ctx.close()


def test_scanning_a_flag_qr_code_joins_and_scores_the_flag(server, browser):
    info = server.info
    ctx = browser.new_context()
    page = ctx.new_page()
    # What the flag's QR code encodes (polls.views.flag_qr): the join URL with the flag.
    page.goto(f"{server.url}/join/?code={info['ctf_code']}&flag=FLAG%7Bp0ster%7D")
    page.fill("#nickname", "Scanner")
    page.click("#join-form button[type=submit]")
    page.wait_for_selector("#flag-result:text('Poster')", timeout=WAIT_MS)
    assert "+15 points" in page.locator("#flag-result").inner_text()  # first blood
    page.wait_for_selector("#me-score:text('15')", timeout=WAIT_MS)
    page.fill("#flag-code", "nope")
    page.click("#flag-form button[type=submit]")
    page.wait_for_selector("#flag-result:text('not a valid flag')", timeout=WAIT_MS)
    ctx.close()


def test_word_cloud_and_rating_charts_on_the_dashboard(server, browser):
    info = server.info
    host_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    host_ctx.add_cookies([{"name": info["cookie_name"], "value": info["host"], "url": server.url}])
    host = host_ctx.new_page()
    errors = []
    host.on("pageerror", lambda e: errors.append(str(e)))
    host.goto(f"{server.url}/host/{info['wc']}/")
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)
    ctx = browser.new_context()
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/join/?code={info['wc_code']}")
    page.fill("#nickname", "Wordy")
    page.click("#join-form button[type=submit]")
    page.wait_for_selector("#meeting:not([hidden])", timeout=WAIT_MS)
    host.click("button[data-cmd='question.next']")
    page.wait_for_selector("#stage form input", timeout=WAIT_MS)
    for word in ("Python", "python!"):
        page.fill("#stage form input", word)
        page.press("#stage form input", "Enter")
        page.wait_for_selector("#answer-status", timeout=WAIT_MS)
        page.wait_for_timeout(300)
    assert "already" in page.locator("#answer-status").inner_text()  # case-folded duplicate
    host.wait_for_selector("#counts td:text('python')", timeout=WAIT_MS)
    assert host.locator("#chart svg").count() >= 1  # AnyChart tag cloud
    host.click("button[data-cmd='question.next']")
    page.wait_for_selector(".rating button", timeout=WAIT_MS)
    page.locator(".rating button", has_text="4").click()
    page.wait_for_selector("#answer-status:text('Answer recorded')", timeout=WAIT_MS)
    host.wait_for_selector("#average:text('Average: 4')", timeout=WAIT_MS)
    assert host.locator("#chart svg").count() >= 1  # AnyChart column chart
    assert errors == []
    ctx.close()
    host_ctx.close()


def test_descriptions_render_markdown_safely_and_the_scoreboard_shows_platforms(server, browser):
    info = server.info
    errors, dialogs = [], []
    host_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    host_ctx.add_cookies([{"name": info["cookie_name"], "value": info["host"], "url": server.url}])
    host = host_ctx.new_page()
    host.on("pageerror", lambda e: errors.append(str(e)))
    host.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    host.goto(f"{server.url}/host/{info['desc']}/")
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)
    ctx = browser.new_context()
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.url}/join/?code={info['desc_code']}")
    page.fill("#nickname", "Webby")
    page.click("#join-form button[type=submit]")
    page.wait_for_selector("#meeting:not([hidden])", timeout=WAIT_MS)

    # The meeting's description on the participant page: Markdown as HTML, raw HTML as text.
    page.wait_for_selector("#m-description strong:text('Town')", timeout=WAIT_MS)
    assert "<script>alert(1)</script>" in page.locator("#m-description").inner_text()

    host.click("button[data-cmd='meeting.start']")
    host.wait_for_selector("#state[data-state='waiting']", timeout=WAIT_MS)
    host.click("button[data-cmd='question.next']")
    # The question's description, on both pages.
    for p, box in ((page, "#stage .question-description"), (host, "#question-description")):
        p.wait_for_selector(f"{box} strong:text('bold')", timeout=WAIT_MS)
        assert "Pick bold <script>alert(1)</script>" in p.locator(box).inner_text()
    for p in (page, host):  # every description box: the page's and the question's
        assert p.locator(".description").count() >= 2
        assert p.locator(".description script").count() == 0

    # The scoreboard: each row with its platform badge, nicknames as text.
    host.click("button[data-cmd='show.scoreboard']")
    page.wait_for_selector("#stage[data-state='scoreboard']", timeout=WAIT_MS)
    rows = page.locator("#stage ol.scoreboard li")
    assert rows.count() == 2
    assert rows.nth(0).locator(".badge.badge-twitch").text_content() == "twitch"
    assert rows.nth(0).text_content() == "twitch<i>Streamer</i> — 5"
    assert rows.nth(1).locator(".badge.badge-web").text_content() == "web"
    assert rows.nth(1).text_content() == "webWebby — 0"
    assert page.locator("#stage ol.scoreboard i").count() == 0
    assert host.locator("#scoreboard .badge-twitch").count() == 1  # the same badge as the host's
    assert errors == [] and dialogs == []
    ctx.close()
    host_ctx.close()
