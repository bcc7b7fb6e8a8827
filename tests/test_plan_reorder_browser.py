"""Reordering the plan by drag and drop on the host dashboard, with real mouse events in a real
browser (HTML5 drag and drop): the lower half of a row drops after it (the only way to reach the
end), the upper half before it, a row dropped on itself changes nothing. Checked on the page, in
the database and after a reload. Server: the real ASGI app (tests/test_dashboard_browser.py)."""

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
from polls.models import Meeting, Question

host = User.objects.create_user("host", password="unused-" + "x" * 20)
host.groups.add(Group.objects.get_or_create(name="host")[0])
c = Client()
c.force_login(host)
m = Meeting.objects.create(title="Reorder")
ids = [Question.objects.create(meeting=m, order=i, kind="text", text=t).pk
       for i, t in enumerate(["Alpha", "Bravo", "Charlie", "Delta"])]
print(json.dumps({"cookie_name": settings.SESSION_COOKIE_NAME,
                  "host": c.cookies[settings.SESSION_COOKIE_NAME].value,
                  "meeting": m.pk, "ids": ids}))
"""

DB_STATE = r"""
import json
from polls.models import Meeting
m = Meeting.objects.get(pk={meeting})
print(json.dumps({{"order": list(m.questions.order_by("order", "id").values_list("text", flat=True)),
                   "version": m.version}}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("reorder"))
    srv.info = json.loads(srv.django(SETUP).strip().splitlines()[-1])
    srv.start()
    yield srv
    srv.stop()


def plan_texts(page) -> list[str]:
    return page.eval_on_selector_all(
        "#plan li", "lis => lis.map(li => li.children[1].textContent)"
    )


def in_db(server) -> dict:
    out = server.django(DB_STATE.format(meeting=server.info["meeting"]))
    return json.loads(out.strip().splitlines()[-1])


def drag(page, source: str, target: str, where: str) -> None:
    """Drag the plan row titled ``source`` onto the ``where`` ("upper"/"lower") quarter of the
    row titled ``target``, with the mouse (Playwright turns it into HTML5 drag events)."""
    src = page.locator("#plan li", has_text=source)
    dst = page.locator("#plan li", has_text=target)
    box = dst.bounding_box()
    y = box["height"] * (0.25 if where == "upper" else 0.75)
    # Grab the row by its title, away from the Edit/Delete buttons.
    src.drag_to(
        dst,
        source_position={"x": 20, "y": src.bounding_box()["height"] / 2},
        target_position={"x": 20, "y": y},
    )


def wait_plan(page, expected: list[str]) -> None:
    page.wait_for_function(
        """expected => JSON.stringify([...document.querySelectorAll('#plan li')]
              .map(li => li.children[1].textContent)) === JSON.stringify(expected)""",
        arg=expected,
        timeout=WAIT_MS,
    )


def test_drag_and_drop_reorders_the_plan_like_a_user_expects(server, browser):
    info = server.info
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.add_cookies([{"name": info["cookie_name"], "value": info["host"], "url": server.url}])
    host = ctx.new_page()
    errors = []
    host.on("pageerror", lambda e: errors.append(str(e)))
    host.goto(f"{server.url}/host/{info['meeting']}/")
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)
    host.wait_for_selector("#host[data-role='control']", timeout=WAIT_MS)
    assert plan_texts(host) == ["Alpha", "Bravo", "Charlie", "Delta"]
    assert host.locator("#plan li").first.get_attribute("draggable") == "true"

    # The first question to the very end: onto the lower half of the last row.
    drag(host, "Alpha", "Delta", "lower")
    wait_plan(host, ["Bravo", "Charlie", "Delta", "Alpha"])
    assert in_db(server)["order"] == ["Bravo", "Charlie", "Delta", "Alpha"]

    # A question to the top: onto the upper half of the first row.
    drag(host, "Delta", "Bravo", "upper")
    wait_plan(host, ["Delta", "Bravo", "Charlie", "Alpha"])
    # Between two rows: the lower half of Bravo is after Bravo (before Charlie).
    drag(host, "Alpha", "Bravo", "lower")
    wait_plan(host, ["Delta", "Bravo", "Alpha", "Charlie"])
    before = in_db(server)
    assert before["order"] == ["Delta", "Bravo", "Alpha", "Charlie"]

    # Dropped on itself (either half) or where it already is: nothing is sent, nothing moves.
    drag(host, "Delta", "Delta", "upper")
    drag(host, "Delta", "Delta", "lower")
    drag(host, "Bravo", "Alpha", "upper")  # already just above Alpha
    # A real move afterwards: its result proves the drops above sent nothing (frames are in order).
    drag(host, "Charlie", "Delta", "upper")
    wait_plan(host, ["Charlie", "Delta", "Bravo", "Alpha"])
    after = in_db(server)
    assert after["order"] == ["Charlie", "Delta", "Bravo", "Alpha"]
    assert after["version"] == before["version"] + 1  # one plan.reorder, not four
    assert host.locator("#command-error").inner_text() == ""

    # What a reload shows is what the database holds.
    host.reload()
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)
    wait_plan(host, ["Charlie", "Delta", "Bravo", "Alpha"])
    assert host.locator("#plan li.drop-before, #plan li.drop-after").count() == 0
    assert errors == []
    ctx.close()
