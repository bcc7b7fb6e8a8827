"""A meeting in a real browser with votes from the built-in demo chat (ingest/adapters/demo.py).

What `make run` shows: a meeting attached to the demo ChatSource, the server running ingest in
process, viewers voting in chat (``#1``, ``#2``, ``#B``) while participants vote on the web. Here
two participants join by code and vote while the demo source streams ``max_events`` events; once
it has emitted them all and the pipeline is idle, the host dashboard's counts must equal the votes
stored in the database AND the counts computed independently from the demo adapter's
``make_event`` (last vote-token per chat author wins: one vote per participant, changes allowed).

Server: the real ASGI app under uvicorn (tests/test_dashboard_browser.LiveServer). Under scale-out
settings (DATABASE_URL=postgres..., REDIS_URL=redis...) the server uses a fresh PostgreSQL
database on that server and Redis with a unique channel prefix, still with in-process ingest.
"""

from __future__ import annotations

import json
import os
import secrets
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.test_dashboard_browser import LiveServer

pytestmark = [pytest.mark.browser]
WAIT_MS = 30_000
RATE = 50
MAX_EVENTS = 300
CHOICES = ["Red", "Green", "Blue"]  # tokens A, B, C; the demo chat never votes for Blue
# The demo's vote lines and the choice each means here (#n: n-th choice, #B: token B).
DEMO_VOTES = {"#1": "Red", "#2": "Green", "#B": "Green"}

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
# The source `manage.py seed_demo` creates, faster and finite. Disabled until the poll is open,
# so that every one of its events arrives while answers are taken (exact expectations).
src = ChatSource.objects.create(
    platform="demo", identifier="demo", name="Demo chat", enabled=False,
    settings={"rate": RATE, "mix": "full", "max_events": MAX_EVENTS},
)
m = Meeting.objects.create(title="Demo chat meeting")
m.sources.add(src)
q = Question.objects.create(meeting=m, order=0, kind="poll", text="Favourite colour?")
for i, t in enumerate(CHOICES):
    Choice.objects.create(question=q, order=i, text=t)
print(json.dumps({"cookie_name": settings.SESSION_COOKIE_NAME,
                  "host": c.cookies[settings.SESSION_COOKIE_NAME].value,
                  "meeting": m.pk, "question": q.pk, "code": m.join_code, "source": src.pk}))
"""

# Independent expectation: replay the adapter's deterministic events, no product code but
# make_event itself (no parser, no services).
EXPECTED = r"""
import json
from ingest.adapters.demo import make_event
from ingest.events import Kind
last, names, texts, changes = {}, {}, set(), 0
for n in range(MAX_EVENTS):
    ev = make_event(SOURCE, n, "full")
    if ev.kind != Kind.MESSAGE or ev.author is None:
        continue
    text = (ev.text or "").strip()
    if not text.startswith("#"):
        continue
    texts.add(text)
    if ev.author.id in last and last[ev.author.id] != text:
        changes += 1
    last[ev.author.id] = text
    names[ev.author.id] = ev.author.display_name
print(json.dumps({"last": last, "names": names, "texts": sorted(texts), "changes": changes}))
"""

# Waits (bounded) until the source's cursor says all events are stored and the votes have not
# changed for a while (pipeline idle), then reports what the database holds.
DB_STATE = r"""
import json, time
from ingest.models import ChatSource
from polls.models import Choice, Participant, Vote
from polls.serializers import scoreboard

def snapshot():
    counts = {c.text: c.vote_set.count() for c in Choice.objects.filter(question_id=QUESTION)}
    via = {}
    for v in Vote.objects.filter(question_id=QUESTION).values_list("via", flat=True):
        via[v] = via.get(v, 0) + 1
    people = sorted(Participant.objects.filter(meeting_id=MEETING)
                    .values_list("platform", "nickname"))
    return {"counts": counts, "via": via, "participants": people}

deadline = time.monotonic() + 60
while ChatSource.objects.get(pk=SOURCE).cursor != str(MAX_EVENTS - 1):
    assert time.monotonic() < deadline, "demo source never emitted all its events"
    time.sleep(0.2)
snap, since = snapshot(), time.monotonic()
while time.monotonic() - since < 2.0:
    assert time.monotonic() < deadline, "votes never settled"
    time.sleep(0.25)
    now = snapshot()
    if now != snap:
        snap, since = now, time.monotonic()
snap["scoreboard"] = [[r["platform"], r["nickname"], r["score"]] for r in scoreboard(MEETING)]
print(json.dumps(snap))
"""

READ_COUNTS = """() => Object.fromEntries([...document.querySelectorAll('#counts tr')].map(
    tr => [tr.cells[0].textContent.replace(/^[A-Z]+\\. /, ''),
           Number(tr.querySelector('td.count').textContent)]))"""
COUNTS_ARE = (
    "(want) => { const got = (" + READ_COUNTS + ")();"
    " return Object.keys(want).every(k => got[k] === want[k])"
    " && Object.keys(got).length === Object.keys(want).length; }"
)


def script(code: str, **params) -> str:
    """``code`` with ``params`` defined first (as Python literals)."""
    return "".join(f"{k} = {v!r}\n" for k, v in params.items()) + code


def _scaleout_env():
    db, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if db.startswith("postgres") and redis_url.startswith("redis"):
        return db, redis_url
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("demo-meet"))
    scaleout = _scaleout_env()
    admin_url = db_name = prefix = None
    if scaleout:  # a fresh database on the given PostgreSQL server, Redis under a unique prefix
        import psycopg

        admin_url, redis_url = scaleout
        db_name = f"chorus_demo_browser_{secrets.token_hex(4)}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        prefix = f"demobrowser{secrets.token_hex(4)}"
        srv.env.update(
            DATABASE_URL=urlunsplit(urlsplit(admin_url)._replace(path="/" + db_name)),
            REDIS_URL=redis_url,
            CHANNEL_PREFIX=prefix,
        )
    srv.mode = "scale-out" if scaleout else "embedded"
    try:
        setup = script(SETUP, RATE=RATE, MAX_EVENTS=MAX_EVENTS, CHOICES=CHOICES)
        srv.info = json.loads(srv.django(setup).strip().splitlines()[-1])
        vendor = srv.django("from django.db import connection; print(connection.vendor)")
        assert vendor.split() == ["postgresql" if scaleout else "sqlite"]
        srv.start()
        yield srv
    finally:
        srv.stop()
        if scaleout:
            import psycopg
            import redis

            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            client = redis.from_url(scaleout[1], socket_connect_timeout=2)
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.delete(*keys)
            client.close()


def test_web_and_demo_chat_votes_reach_the_host_dashboard_exactly(server, browser):
    info = server.info
    expected_chat = json.loads(
        server.django(script(EXPECTED, MAX_EVENTS=MAX_EVENTS, SOURCE=info["source"]))
        .strip()
        .splitlines()[-1]
    )
    # The demo's vote lines are the ones this test maps; both chat-voted choices get votes and
    # some viewers change their minds, so ignoring, double-counting or not applying changes shows.
    assert set(expected_chat["texts"]) <= set(DEMO_VOTES), expected_chat["texts"]
    chat_counts = dict.fromkeys(CHOICES, 0)
    for text in expected_chat["last"].values():
        chat_counts[DEMO_VOTES[text]] += 1
    assert chat_counts["Red"] > 0 and chat_counts["Green"] > 0 and chat_counts["Blue"] == 0
    assert expected_chat["changes"] > 0
    chat_voters = len(expected_chat["last"])
    # Web: Ann votes Red then changes to Blue, Ben votes Green.
    want = {
        "Red": chat_counts["Red"],
        "Green": chat_counts["Green"] + 1,
        "Blue": 1,
    }

    errors = []
    host_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    host_ctx.add_cookies([{"name": info["cookie_name"], "value": info["host"], "url": server.url}])
    host = host_ctx.new_page()
    host.on("pageerror", lambda e: errors.append(str(e)))
    assert host.goto(f"{server.url}/host/{info['meeting']}/").status == 200
    host.wait_for_selector("#conn:text('live')", timeout=WAIT_MS)

    people = {}
    for name in ("Ann", "Ben"):
        ctx = browser.new_context()
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/join/?code={info['code']}")
        page.fill("#nickname", name)
        page.click("#join-form button[type=submit]")
        page.wait_for_selector("#meeting:not([hidden])", timeout=WAIT_MS)
        people[name] = (ctx, page)
    host.wait_for_selector("#participants:text('2')", timeout=WAIT_MS)

    host.click("button[data-cmd='meeting.start']")
    host.wait_for_selector("#state[data-state='waiting']", timeout=WAIT_MS)
    host.click("button[data-cmd='question.next']")
    host.wait_for_selector("#state[data-state='ongoing']", timeout=WAIT_MS)
    ann, ben = people["Ann"][1], people["Ben"][1]
    ann.wait_for_selector(".choices button", timeout=WAIT_MS)
    ben.wait_for_selector(".choices button", timeout=WAIT_MS)

    # The poll is open: turn the demo chat on (what an admin does; the supervisor picks it up).
    server.django(
        "from ingest.models import ChatSource\n"
        f"ChatSource.objects.filter(pk={info['source']}).update(enabled=True)\n"
    )
    host.wait_for_selector("#chat li .badge-demo", timeout=WAIT_MS)  # the demo chat is live

    # Web votes while the chat streams.
    for page, choice in ((ann, "Red"), (ben, "Green")):
        page.locator(".choices button", has_text=choice).click()
        page.wait_for_selector("#answer-status:text('Answer recorded')", timeout=WAIT_MS)
    ann.locator(".choices button", has_text="Blue").click()
    ann.wait_for_selector("#answer-status:text('Answer changed')", timeout=WAIT_MS)

    # (a) the dashboard shows web + demo chat votes, exactly what make_event implies.
    try:
        host.wait_for_function(COUNTS_ARE, arg=want, timeout=60_000)
    except Exception:
        got = host.evaluate(READ_COUNTS)
        pytest.fail(f"dashboard counts {got} never became {want} ({server.mode})")

    # (b) all events emitted, pipeline idle: dashboard == database == expectation.
    db = json.loads(
        server.django(
            script(
                DB_STATE,
                QUESTION=info["question"],
                MEETING=info["meeting"],
                SOURCE=info["source"],
                MAX_EVENTS=MAX_EVENTS,
            )
        )
        .strip()
        .splitlines()[-1]
    )
    assert db["counts"] == want, (db, want)
    assert db["via"] == {"web": 2, "demo": chat_voters}
    total = sum(want.values())
    assert total == 2 + chat_voters
    host.wait_for_timeout(1500)  # a late (double-counting) update would land here
    assert host.evaluate(READ_COUNTS) == db["counts"]
    assert host.locator("#answers").inner_text() == str(total)

    # Chat voters are participants with their platform (identity: platform + user id).
    expected_people = sorted(
        [["web", "Ann"], ["web", "Ben"]]
        + [["demo", n[:64]] for n in expected_chat["names"].values()]
    )
    assert db["participants"] == expected_people
    host.wait_for_selector(f"#participants:text('{len(expected_people)}')", timeout=WAIT_MS)
    want_board = [f"{p}{n} — {s}" for p, n, s in db["scoreboard"]]
    host.wait_for_function(
        "(want) => JSON.stringify([...document.querySelectorAll('#scoreboard li')]"
        ".map(li => li.textContent)) === JSON.stringify(want)",
        arg=want_board,
        timeout=WAIT_MS,
    )
    demo_rows = sum(1 for p, _, _ in db["scoreboard"] if p == "demo")
    assert demo_rows > 0
    assert host.locator("#scoreboard .badge-demo").count() == demo_rows
    assert host.locator("#scoreboard .badge-web").count() == 2
    assert "chat answers counted" in host.locator("#chat-votes").inner_text()

    # Participants see the same numbers with the results.
    host.click("button[data-cmd='show.results']")
    ben.wait_for_selector("#stage[data-state='results']", timeout=WAIT_MS)
    stage = ben.locator("#stage").inner_text()
    for choice, n in want.items():
        assert f"{choice} — {n}" in stage, stage
    assert errors == []
    for ctx, _ in people.values():
        ctx.close()
    host_ctx.close()
