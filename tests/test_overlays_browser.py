"""Overlays (OBS browser sources) and the display manager in a real browser (Debian chromium).

The server is the real ASGI app under uvicorn (tests/test_dashboard_browser.LiveServer) with
in-process ingest; chat arrives through a followed replay file, so every message and deletion goes
adapter -> pipeline -> store -> overlays hub -> channel layer -> overlay socket -> page.
Screenshots of every overlay kind go to test-artifacts/overlays/ (gitignored).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.test_dashboard_browser import ROOT, WAIT_MS, LiveServer, message

pytestmark = [pytest.mark.browser]
SHOTS = ROOT / "test-artifacts" / "overlays"

SETUP = r"""
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from ingest.models import ChatSource
from overlays.models import DisplaySettings
from overlays import services
from tests.meetings import standard

boss = User.objects.create_user("boss", password="unused-" + "x" * 20, is_staff=True)
c = Client()
c.force_login(boss)
from django.contrib.auth.models import Group
hosty = User.objects.create_user("hosty", password="unused-" + "x" * 20)  # a host, not a moderator
hosty.groups.add(Group.objects.get_or_create(name="host")[0])
hc = Client()
hc.force_login(hosty)
src = ChatSource.objects.create(
    platform="replay", identifier="overlay-show", name="Overlay show",
    settings={"path": "chat.jsonl", "follow": True, "poll_seconds": 0.05},
)
m = standard(title="Friday stream")
m.sources.add(src)
DisplaySettings.objects.create(meeting=m, rotation_seconds=1, display_limit=20)
tokens = {}
for kind in ["featured", "ticker", "alerts", "question", "wordcloud", "scoreboard", "joincard"]:
    ov, token = services.create_overlay(meeting=m, kind=kind, name=kind.title())
    tokens[kind] = token

# Meetings in the states worth a screenshot (one per state: a meeting has one current question).
from polls import services as ps

def staged(title, kind, answers, *, results=False, scores=None, words=None):
    mm = standard(title=title)
    q = mm.questions.get(kind=kind)
    ps.apply_command(mm.pk, "start")
    ps.apply_command(mm.pk, "goto", q.pk)
    people = [ps.join(mm, n)[0] for n in ["Ana", "Ben", "Cleo", "Dan", "Eli", "Fay", "Gus"]]
    for p, a in zip(people, answers):
        ans = ps.Answer(participant_id=p.pk, value=a) if kind == "rating" else ps.Answer(participant_id=p.pk, raw=a)
        ps.record_answers(q.pk, [ans], mm.pk)
    if words:
        ps.record_words(q.pk, [(people[i % 7].pk, w) for i, w in enumerate(words)], mm.pk)
    if scores:
        from polls.models import Participant
        for p, sc in zip(people, scores):
            Participant.objects.filter(pk=p.pk).update(score=sc)
    if results:
        ps.apply_command(mm.pk, "close")
        ps.apply_command(mm.pk, "results")
    return mm

poll_meeting = staged("Poll", "poll", "ABBCBAB", scores=[820, 1460, 990, 400, 1210, 300, 760])
for name, mm, kind in [
    ("question-poll", poll_meeting, "question"),
    ("scoreboard", poll_meeting, "scoreboard"),
    ("question-quiz-reveal", staged("Quiz", "quiz", "ABCABCA", results=True), "question"),
    ("wordcloud", staged("Words", "wordcloud", "", words=["pizza", "tacos", "pizza", "sushi", "ramen", "pizza", "tacos", "curry", "pho", "bagels"]), "wordcloud"),
    ("question-rating", staged("Rating", "rating", [5, 4, 5, 3, 4, 5, 2]), "question"),
]:
    tokens[name] = services.create_overlay(meeting=mm, kind=kind)[1]
print(json.dumps({
    "cookie_name": settings.SESSION_COOKIE_NAME,
    "boss": c.cookies[settings.SESSION_COOKIE_NAME].value,
    "host": hc.cookies[settings.SESSION_COOKIE_NAME].value,
    "meeting": m.pk, "tokens": tokens,
}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("overlays"))
    out = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=srv.env, capture_output=True, text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    srv.info = json.loads(out.stdout.strip().splitlines()[-1])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def pages(server, browser):
    contexts = []

    def _open(path, *, staff=False, who="boss", width=800, height=450):
        # bypass_csp: the page's CSP (script-src 'self') would block an injected script anyway;
        # without it, the hostile-chat test proves the escaping itself (and Playwright's
        # wait_for_function may evaluate its predicate).
        ctx = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        if staff:
            ctx.add_cookies(
                [{"name": server.info["cookie_name"], "value": server.info[who], "url": server.url}]
            )
        contexts.append(ctx)
        page = ctx.new_page()
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.response = page.goto(server.url + path)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def overlay(pages, server, kind, query="", **kw):
    page = pages(f"/o/{server.info['tokens'][kind]}/{query}", **kw)
    assert page.response.status == 200
    page.wait_for_selector("body[data-conn=open]", timeout=WAIT_MS)
    return page


def manager(pages, server):
    """The display manager page, plus a moderator socket in it (the dashboard's own commands)."""
    page = pages(f"/overlays/{server.info['meeting']}/display/", staff=True, width=1100, height=700)
    assert page.response.status == 200
    page.evaluate(
        """() => new Promise((resolve) => {
            window.__mod = new ChorusSocket("/ws/moderation/", {
              onState: (s) => { if (s === "open") resolve(); } });
            window.__mod.start();
        })"""
    )
    return page


def chat_ids(page, texts: list[str]) -> list[int]:
    """Database ids of the messages with these texts (waits until they are stored)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ack = page.evaluate("() => window.__mod.send('messages.query', {limit: 200})")
        by_text = {m["text"]: m["id"] for m in ack["messages"]}
        if all(t in by_text for t in texts):
            return [by_text[t] for t in texts]
        time.sleep(0.1)
    raise AssertionError(f"messages not stored: {texts}")


def select(page, ids: list[int], **extra):
    for i in ids:
        page.evaluate(
            "([id, extra]) => window.__mod.send('message.update', "
            "Object.assign({message_id: id, display_selected: true}, extra))",
            [i, extra],
        )


def unselect_all(page, server):
    ack = page.evaluate("() => window.__mod.send('messages.query', {limit: 200})")
    for m in ack["messages"]:
        if m["display_selected"]:
            page.evaluate(
                "id => window.__mod.send('message.update', {message_id: id, display_selected: false, pinned: false})",
                m["id"],
            )


def deletion(target: str) -> dict:
    return {
        "kind": "deletion", "platform": "twitch", "id": "del-" + uuid.uuid4().hex,
        "target_message_id": target, "sent_at": datetime.now(UTC).isoformat(),
    }


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(450)  # let the entry animation finish
    page.screenshot(path=str(SHOTS / f"{name}.png"), omit_background=True)


# --- tests ---------------------------------------------------------------------------------------
def test_wrong_token_is_a_404(pages, server):
    for path in ("/o/not-a-token/", "/o/" + "A" * 32 + "/", "/o/x/custom.css"):
        assert pages(path).response.status == 404


def test_featured_message_shows_and_hostile_chat_stays_text(pages, server):
    mod = manager(pages, server)
    unselect_all(mod, server)
    ov = overlay(pages, server, "featured", "?max_items=3&size=30")
    img = "<img src=x onerror=alert(1)>"
    script = "<script>alert(2)</script><b>bold?</b>"
    hello = "Hello from chat Kappa"
    server.chat(
        message(img, who=("u9", "evil", '<img src=y onerror="alert(3)">'), id="x-img"),
        message(script, who=("u10", "evil2", "evil"), id="x-script"),
        message(hello, who=("u1", "alice", "Alice"), id="x-hello", fragments=[
            {"type": "text", "text": "Hello from chat "},
            {"type": "emote", "text": 'Kappa"><b>x</b>', "emote_id": "25",
             "image_url": server.url + "/static/overlays/demo-emote.svg"},
        ]),
    )
    ids = chat_ids(mod, [img, script, hello])
    select(mod, ids)
    for i, text in zip(ids, [img, script, "Hello from chat "], strict=True):
        item = ov.locator(f'.item[data-id="{i}"] .msg-text')
        item.wait_for(timeout=WAIT_MS)
        assert item.inner_text().strip() == text.strip()
    assert ov.locator('.item .author', has_text='<img src=y onerror="alert(3)">').count() == 1
    assert ov.locator("#stage script, #stage b, #stage img[src='x'], #stage img[src='y']").count() == 0
    # The emote fragment (image_url from the platform) is an image with its text as alt.
    emote = ov.locator(f'.item[data-id="{ids[2]}"] img.emote')
    assert emote.get_attribute("alt") == 'Kappa"><b>x</b>'  # an attribute value, not markup
    assert emote.get_attribute("src").endswith("/static/overlays/demo-emote.svg")
    ov.wait_for_timeout(300)
    assert ov.dialogs == [] and not ov.errors
    shot(ov, "featured")
    # The manager lists them too, as text.
    mod.locator(f'.display-item[data-id="{ids[0]}"]').wait_for(timeout=WAIT_MS)
    assert mod.locator(f'.display-item[data-id="{ids[0]}"] .text').inner_text() == img
    assert mod.dialogs == []


def _rotation(ov, seconds: float) -> list[int]:
    """The rotating message on screen, sampled for ``seconds``; consecutive repeats dropped."""
    seen: list[int] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        cur = ov.evaluate("document.body.dataset.showing")
        if cur and (not seen or seen[-1] != int(cur)):
            seen.append(int(cur))
        time.sleep(0.05)
    return seen


def test_reordering_in_the_display_manager_changes_the_rotation_order(pages, server):
    mod = manager(pages, server)
    unselect_all(mod, server)
    server.chat(*(message(f"rotate {n}", id=f"rot-{n}-{uuid.uuid4().hex[:6]}") for n in "ABC"))
    a, b, c = chat_ids(mod, ["rotate A", "rotate B", "rotate C"])
    select(mod, [a, b, c])
    ov = overlay(pages, server, "featured")  # max_items 1: one message at a time, 1 s each
    ov.wait_for_function(f"document.body.dataset.queue === '{a},{b},{c}'", timeout=WAIT_MS)
    seen = _rotation(ov, 3.3)
    assert len(seen) >= 3
    start = [a, b, c].index(seen[0])
    assert seen[:3] == ([a, b, c] * 2)[start : start + 3]

    # Drag C above A in the display manager (SortableJS, by its handle).
    mod.locator(f'.display-item[data-id="{c}"]').wait_for(timeout=WAIT_MS)
    handle = mod.locator(f'.display-item[data-id="{c}"] .handle')
    target = mod.locator(f'.display-item[data-id="{a}"]')
    hb, tb = handle.bounding_box(), target.bounding_box()
    mod.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    mod.mouse.down()
    for step in range(1, 11):
        mod.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + (tb["y"] + 4 - hb["y"]) * step / 10)
        mod.wait_for_timeout(30)
    mod.mouse.up()
    mod.wait_for_function(
        f"Array.from(document.querySelectorAll('.display-item')).map(e => e.dataset.id).join(',') === '{c},{a},{b}'",
        timeout=WAIT_MS,
    )
    ov.wait_for_function(f"document.body.dataset.queue === '{c},{a},{b}'", timeout=WAIT_MS)
    seen = _rotation(ov, 3.3)
    start = [c, a, b].index(seen[0])
    assert seen[:3] == ([c, a, b] * 2)[start : start + 3]
    # Survives a reload of the manager (stored, not only on screen).
    mod.reload()
    mod.wait_for_function(
        f"Array.from(document.querySelectorAll('.display-item')).map(e => e.dataset.id).join(',') === '{c},{a},{b}'",
        timeout=WAIT_MS,
    )


def test_platform_deletion_removes_the_message_from_the_overlay_within_a_second(pages, server):
    mod = manager(pages, server)
    unselect_all(mod, server)
    pid = "gone-" + uuid.uuid4().hex[:8]
    server.chat(message("this will be deleted", id=pid), message("this stays", id=pid + "-ok"))
    gone, stays = chat_ids(mod, ["this will be deleted", "this stays"])
    select(mod, [gone, stays], pinned=True)  # both pinned: both on screen
    ov = overlay(pages, server, "featured")
    ticker = overlay(pages, server, "ticker")
    for page in (ov, ticker):
        page.locator(f'.item[data-id="{gone}"]').wait_for(timeout=WAIT_MS)
    # The page notes (wall clock) when the message starts leaving (the fade-out, 350 ms by
    # default, is the streamer's choice: animation_out) and when it is gone from the page.
    ov.evaluate(
        """id => { window.__left = null; window.__gone = null;
          new MutationObserver(() => {
            const n = document.querySelector(`.item[data-id="${id}"]`);
            if (!window.__left && (!n || n.classList.contains("anim-out"))) window.__left = Date.now();
            if (!window.__gone && !n) window.__gone = Date.now();
          }).observe(document.getElementById("stage"), {subtree: true, childList: true, attributes: true});
        }""",
        gone,
    )
    t0 = time.time()
    server.chat(deletion(pid))
    ov.locator(f'.item[data-id="{gone}"]').wait_for(state="detached", timeout=WAIT_MS)
    left = ov.evaluate("window.__left") / 1000 - t0
    detached = ov.evaluate("window.__gone") / 1000 - t0
    ticker.locator(f'.item[data-id="{gone}"]').wait_for(state="detached", timeout=WAIT_MS)
    print(f"platform deletion -> starts leaving after {left * 1000:.0f} ms, "
          f"gone from the page after {detached * 1000:.0f} ms")
    assert left < 1.0 and detached < 1.0
    assert ov.locator(f'.item[data-id="{stays}"]').count() == 1

    # A moderator's "ignore" is just as quick.
    t0 = time.monotonic()
    mod.evaluate("id => window.__mod.send('message.update', {message_id: id, status: 'ignored'})", stays)
    ov.locator(f'.item[data-id="{stays}"]').wait_for(state="detached", timeout=WAIT_MS)
    assert time.monotonic() - t0 < 1.0


def test_overlay_reconnects_and_shows_the_current_state(pages, server):
    mod = manager(pages, server)
    unselect_all(mod, server)
    ov = overlay(pages, server, "featured")
    ov.evaluate("window.__marker = 'same page'")
    server.chat(message("while offline", id="off-" + uuid.uuid4().hex[:8]))
    (mid,) = chat_ids(mod, ["while offline"])
    # Drop the connection (like a network cut) and change the display while it is down.
    ov.evaluate("() => window.chorusOverlay.socket.ws.close()")
    select(mod, [mid], pinned=True)
    ov.locator(f'.item[data-id="{mid}"]').wait_for(timeout=WAIT_MS)
    assert ov.evaluate("window.chorusOverlay.hellos") == 2  # it came with the new hello
    assert ov.evaluate("document.body.dataset.conn") == "open"
    assert ov.evaluate("window.__marker") == "same page"


def test_screenshots_of_every_overlay_kind(pages, server):
    """Not a pixel test: real pages in every state worth seeing, saved for a human to look at."""
    mod = manager(pages, server)
    unselect_all(mod, server)
    server.chat(
        message("GG everyone! That last round was wild", who=("u2", "bea", "Bea"), id="s1"),
        message("Can you explain the second question again?", who=("u3", "carl", "Carl"),
                platform="youtube", id="s2"),
        message("Greetings from Lisbon", who=("u4", "dee", "Dee"), platform="tiktok", id="s3"),
    )
    ids = chat_ids(mod, ["GG everyone! That last round was wild", "Greetings from Lisbon"])
    select(mod, ids[:1], pinned=True)
    select(mod, ids[1:])
    shot(overlay(pages, server, "featured", "?max_items=2"), "featured-pinned-and-rotating")
    shot(overlay(pages, server, "featured", "?theme=light&align=center"), "featured-light")
    ticker = overlay(pages, server, "ticker", "?max_items=6&size=20")
    ticker.locator(".item").first.wait_for(timeout=WAIT_MS)
    shot(ticker, "ticker")

    alerts = overlay(pages, server, "alerts", "?hide_after=30")
    server.chat(message("Love this stream, keep going!", who=("u5", "eve", "Eve"),
                        platform="youtube", kind="paid", amount="20", currency="USD",
                        amount_display="$20.00", id="paid-" + uuid.uuid4().hex[:6]))
    alerts.locator(".alert").wait_for(timeout=WAIT_MS)
    shot(alerts, "alerts")

    # Meeting overlays (meetings staged by SETUP): the page loads the state from its hello frame.
    q = overlay(pages, server, "question-poll", "?size=26")
    q.locator(".choice").first.wait_for(timeout=WAIT_MS)
    assert q.locator(".total").inner_text() == "7 answers"
    assert q.locator(".choice .pct").all_inner_texts() == ["29% (2)", "57% (4)", "14% (1)"]
    assert q.locator(".choice.correct").count() == 0
    shot(q, "question-poll")
    sb = overlay(pages, server, "scoreboard")
    sb.locator(".step-1").wait_for(timeout=WAIT_MS)
    assert sb.locator(".step-1 .nick").inner_text() == "Ben"
    shot(sb, "scoreboard")
    quiz = overlay(pages, server, "question-quiz-reveal", "?size=26")
    quiz.locator(".choice.correct").first.wait_for(timeout=WAIT_MS)
    assert quiz.locator(".choice.correct .c-text").all_inner_texts() == ["4", "Four"]
    shot(quiz, "question-quiz-reveal")
    wc = overlay(pages, server, "wordcloud", "?theme=light")
    wc.locator(".word").first.wait_for(timeout=WAIT_MS)
    assert wc.locator(".word").first.inner_text() == "pizza"
    shot(wc, "wordcloud")
    rating = overlay(pages, server, "question-rating")
    rating.locator(".rating-row").first.wait_for(timeout=WAIT_MS)
    assert rating.locator(".total").inner_text().startswith("Average 4 / 5")
    shot(rating, "question-rating")

    jc = overlay(pages, server, "joincard", "?theme=light")
    jc.wait_for_function("document.getElementById('join-code').textContent.length === 6",
                         timeout=WAIT_MS)
    jc.wait_for_function("document.querySelector('.qr').naturalWidth > 0", timeout=WAIT_MS)
    shot(jc, "joincard")

    dash = pages(f"/overlays/{server.info['meeting']}/", staff=True, width=1280, height=900)
    assert dash.response.status == 200
    assert dash.locator(".overlay-card").count() == 7
    dash.wait_for_timeout(1500)
    dash.screenshot(path=str(SHOTS / "dashboard.png"), full_page=False)
    mod.screenshot(path=str(SHOTS / "display-manager.png"))
    for p in (q, sb, quiz, wc, rating, jc, alerts, ticker):
        assert not p.errors, p.errors


def test_custom_css_added_changed_and_removed_live_without_a_reload(pages, server):
    """Saving custom CSS on the dashboard reaches an open overlay that had none (overlay.settings
    custom_css: true -> the page adds its <link>, re-fetches it when changed, drops it when gone)."""
    ov = overlay(pages, server, "joincard")
    ov.evaluate("window.__marker = 'same page'")
    assert ov.locator("link#custom-css").count() == 0
    dash = pages(f"/overlays/{server.info['meeting']}/", staff=True, width=1280, height=900)

    def save_css(css):
        card = dash.locator('.overlay-card[data-kind="joincard"]')
        card.locator("summary").click()
        card.locator("textarea[name=custom_css]").fill(css)
        with dash.expect_navigation():
            card.locator("form.settings button[type=submit]").click()
        assert "Bad" not in dash.content()

    outline = "getComputedStyle(document.body).outlineWidth"
    save_css("body { outline: 7px solid rgb(255, 0, 0); }")
    ov.wait_for_function(f"{outline} === '7px'", timeout=WAIT_MS)
    save_css("body { outline: 9px solid rgb(0, 0, 255); }")
    ov.wait_for_function(f"{outline} === '9px'", timeout=WAIT_MS)
    save_css("")
    ov.wait_for_function(
        f"!document.getElementById('custom-css') && {outline} !== '9px'", timeout=WAIT_MS
    )
    assert ov.evaluate("window.__marker") == "same page"
    assert ov.evaluate("window.chorusOverlay.hellos") == 1 and not ov.errors


def test_a_host_display_manager_follows_changes_by_polling(pages, server):
    """Hosts may open the display manager but not /ws/moderation/: their list polls (3 s)."""
    mod = manager(pages, server)
    unselect_all(mod, server)
    host = pages(f"/overlays/{server.info['meeting']}/display/", staff=True, who="host",
                 width=1100, height=700)
    assert host.response.status == 200
    assert host.locator("#display-list").get_attribute("data-live") == "poll"
    server.chat(message("seen by the host", id="host-" + uuid.uuid4().hex[:8]))
    (mid,) = chat_ids(mod, ["seen by the host"])
    t0 = time.monotonic()
    select(mod, [mid])
    host.locator(f'.display-item[data-id="{mid}"]').wait_for(timeout=WAIT_MS)
    assert time.monotonic() - t0 < 4.5
    select(mod, [mid], pinned=True)
    host.locator(f'.display-item.pinned[data-id="{mid}"]').wait_for(timeout=WAIT_MS)
    assert not host.errors


def _silent_wav(seconds: float) -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * int(8000 * seconds))
    return buf.getvalue()


def test_a_revolution_video_plays_to_its_end_not_for_hide_after_seconds(pages, server, browser):
    """The alert stays while its video plays (3 s here, past hide_after=1) and leaves when it
    ends; a video that cannot be loaded falls back to hide_after. The media and the alert frames
    are injected by Playwright (a route for the file, a websocket route in front of the server)."""
    token = server.info["tokens"]["alerts"]
    ctx = browser.new_context(viewport={"width": 800, "height": 450})
    try:
        page = ctx.new_page()
        page.route("**/media-test/ok.wav", lambda r: r.fulfill(
            status=200, body=_silent_wav(3.0), content_type="audio/wav"))
        page.route("**/media-test/missing.webm", lambda r: r.fulfill(status=404, body="no"))
        routes = []

        def on_ws(ws):
            upstream = ws.connect_to_server()
            ws.on_message(lambda m: upstream.send(m))
            upstream.on_message(lambda m: ws.send(m))
            routes.append(ws)

        page.route_web_socket(f"**/ws/overlay/{token}/", on_ws)
        page.goto(f"{server.url}/o/{token}/?hide_after=1")
        page.wait_for_selector("body[data-conn=open]", timeout=WAIT_MS)

        def alert(video):
            routes[-1].send(json.dumps({
                "type": "alert", "kind": "revolution", "meeting_id": server.info["meeting"],
                "revolution_id": 1, "message": "Revolution!",
                "video_url": f"{server.url}/media-test/{video}",
            }))

        alert("ok.wav")
        page.locator(".alert video").wait_for(timeout=WAIT_MS)
        t0 = time.monotonic()
        page.wait_for_function(
            "() => { const v = document.querySelector('.alert video'); return v && v.currentTime > 0; }",
            timeout=WAIT_MS,
        )
        page.wait_for_timeout(1800)  # past hide_after (1 s): still on air while it plays
        assert page.locator(".alert").count() == 1
        page.wait_for_selector(".alert", state="detached", timeout=WAIT_MS)
        played = time.monotonic() - t0
        assert 2.0 < played < 6.0, played  # about the video's 3 s, not 1 s and not 60 s

        alert("missing.webm")
        page.locator(".alert").wait_for(timeout=WAIT_MS)
        t1 = time.monotonic()
        page.wait_for_selector(".alert", state="detached", timeout=WAIT_MS)
        assert time.monotonic() - t1 < 4.0  # hide_after (1 s) once the video failed
    finally:
        ctx.close()


def test_an_approval_does_not_bring_back_a_ticker_message_that_already_ran(pages, server):
    mod = manager(pages, server)
    ticker = overlay(pages, server, "ticker", "?hide_after=1&animation_out=none")
    tag = uuid.uuid4().hex[:8]
    server.chat(message(f"ran once {tag}", id="ran-" + tag))
    (mid,) = chat_ids(mod, [f"ran once {tag}"])
    item = ticker.locator(f'.item[data-id="{mid}"]')
    item.wait_for(timeout=WAIT_MS)
    item.wait_for(state="detached", timeout=WAIT_MS)  # hide_after
    # A moderator approves it now: the server sends it to the ticker again (for pages that show
    # approved messages only); this "all" page already ran it and must not run it twice.
    mod.evaluate("id => window.__mod.send('message.update', {message_id: id, status: 'reviewed'})", mid)
    approved_only = overlay(pages, server, "ticker", "?filter=approved")
    server.chat(message(f"later {tag}", id="later-" + tag))
    (later,) = chat_ids(mod, [f"later {tag}"])
    ticker.locator(f'.item[data-id="{later}"]').wait_for(timeout=WAIT_MS)
    assert ticker.locator(f'.item[data-id="{mid}"]').count() == 0
    # The approved-only page got it with the approval's state (its hello lists recent messages).
    approved_only.locator(f'.item[data-id="{mid}"]').wait_for(timeout=WAIT_MS)
