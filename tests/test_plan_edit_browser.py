"""Editing and deleting questions from the host dashboard in a real browser: the Edit dialog
(text, timer, choices while nobody answered; frozen choices afterwards), Delete with confirm(),
user text always shown as text. Server: the real ASGI app (tests/test_dashboard_browser.py)."""

from __future__ import annotations

import json

import pytest

from tests.test_dashboard_browser import LiveServer

pytestmark = [pytest.mark.browser]
WAIT_MS = 15_000

SETUP = r"""
import json
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from polls.models import Choice, Meeting, Question

host = User.objects.create_user("host", password="unused-" + "x" * 20)
host.groups.add(Group.objects.get_or_create(name="host")[0])
c = Client()
c.force_login(host)
m = Meeting.objects.create(title="Plan edits")
poll = Question.objects.create(meeting=m, order=0, kind="poll", text="Colour <i>?</i>")
for i, t in enumerate(["Red", "Green"]):
    Choice.objects.create(question=poll, order=i, text=t)
quiz = Question.objects.create(meeting=m, order=1, kind="quiz", text="2 + 2?")
for i, (t, ok) in enumerate([("3", False), ("4", True)]):
    Choice.objects.create(question=quiz, order=i, text=t, is_correct=ok)
Question.objects.create(meeting=m, order=2, kind="rating", text="Rate it", rating_max=5)
print(json.dumps({"cookie_name": settings.SESSION_COOKIE_NAME,
                  "host": c.cookies[settings.SESSION_COOKIE_NAME].value,
                  "meeting": m.pk, "code": m.join_code, "poll": poll.pk, "quiz": quiz.pk}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("plan"))
    srv.info = json.loads(srv.django(SETUP).strip().splitlines()[-1])
    srv.start()
    yield srv
    srv.stop()


def row(page, qid):
    return page.locator(f"#plan li[data-id='{qid}']")


def test_host_edits_and_deletes_questions_from_the_dashboard(server, browser):
    info = server.info
    host_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    host_ctx.add_cookies([{"name": info["cookie_name"], "value": info["host"], "url": server.url}])
    host = host_ctx.new_page()
    errors = []
    host.on("pageerror", lambda e: errors.append(str(e)))
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.accept()

    host.on("dialog", on_dialog)
    host.goto(f"{server.url}/host/{info['meeting']}/")
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)
    poll = row(host, info["poll"])
    assert "Colour <i>?</i>" in poll.inner_text() and host.locator("#plan i").count() == 0

    # Edit the poll before anyone answered: text, timer and choices.
    poll.locator("button[data-action='edit']").click()
    host.wait_for_selector("#question-editor[open]", timeout=WAIT_MS)
    assert host.locator("#editor-text").input_value() == "Colour <i>?</i>"
    assert not host.locator("#editor-choices").is_hidden()
    assert host.locator("#editor-locked").is_hidden()
    host.fill("#editor-text", "<img src=x onerror=alert(1)>Colour?")
    host.fill("#editor-timer", "45")
    host.locator("#editor-choice-list input[type=text]").first.fill("Crimson")
    host.click("#editor-add-choice")
    host.locator("#editor-choice-list input[type=text]").last.fill("Gold")
    host.click("#editor-save")
    host.wait_for_selector("#question-editor", state="hidden", timeout=WAIT_MS)
    host.wait_for_function(
        f"""() => document.querySelector("#plan li[data-id='{info["poll"]}']")
              .textContent.includes('onerror')""",
        timeout=WAIT_MS,
    )
    assert host.locator("#plan img").count() == 0  # shown as text
    assert host.locator("#command-error").inner_text() == ""

    # A validation error is shown in the dialog, which stays open.
    row(host, info["quiz"]).locator("button[data-action='edit']").click()
    host.wait_for_selector("#question-editor[open]", timeout=WAIT_MS)
    host.locator("#editor-choice-list input[type=checkbox]").last.uncheck()
    host.click("#editor-save")
    host.wait_for_selector("#editor-error:text('at least one correct choice')", timeout=WAIT_MS)
    host.click("#editor-cancel")
    host.wait_for_selector("#question-editor", state="hidden", timeout=WAIT_MS)

    # A participant answers the poll: its choices are frozen, its text still editable.
    ctx = browser.new_context()
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/join/?code={info['code']}")
    page.fill("#nickname", "Ann")
    page.click("#join-form button[type=submit]")
    page.wait_for_selector("#meeting:not([hidden])", timeout=WAIT_MS)
    host.click("button[data-cmd='meeting.start']")
    host.wait_for_selector("#state[data-state='waiting']", timeout=WAIT_MS)
    host.click("button[data-cmd='question.next']")
    page.wait_for_selector(".choices button:has-text('Gold')", timeout=WAIT_MS)
    assert "onerror" in page.locator("#stage").inner_text()
    assert page.locator("#stage img").count() == 0
    page.locator(".choices button", has_text="Gold").click()
    page.wait_for_selector("#answer-status:text('Answer recorded')", timeout=WAIT_MS)
    host.click("button[data-cmd='question.close']")  # a host.state with the answer count
    host.wait_for_function(
        f"""() => document.querySelector("#plan li[data-id='{info["poll"]}']")
              .textContent.includes('1 answers')""",
        timeout=WAIT_MS,
    )
    poll.locator("button[data-action='edit']").click()
    host.wait_for_selector("#question-editor[open]", timeout=WAIT_MS)
    assert not host.locator("#editor-locked").is_hidden()
    assert host.locator("#editor-choice-list input[type=text]").first.is_disabled()
    host.fill("#editor-text", "Colour, final?")
    host.click("#editor-save")
    host.wait_for_selector("#question-editor", state="hidden", timeout=WAIT_MS)
    page.wait_for_selector("#stage:has-text('Colour, final?')", timeout=WAIT_MS)

    # The question on screen cannot be deleted; another one can, after confirm().
    assert poll.locator("button[data-action='delete']").is_disabled()
    row(host, info["quiz"]).locator("button[data-action='delete']").click()
    host.wait_for_function(
        "() => document.querySelectorAll('#plan li').length === 2", timeout=WAIT_MS
    )
    assert dialogs and "2 + 2?" in dialogs[-1]
    assert errors == []
    ctx.close()
    host_ctx.close()
