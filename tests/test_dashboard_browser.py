"""The live moderation dashboard in a real browser (Debian chromium driven by Playwright).

The server is the real ASGI app under uvicorn in a subprocess, against its own SQLite file, with
in-process ingest. Chat reaches it through the real pipeline: a "replay" source follows a JSONL
file that the tests append normalized ChatEvents to (ingest/adapters/replay.py), so every message
goes adapter -> pipeline -> store -> channel layer -> websocket -> browser.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 10_000

# Runs in a separate Python process against the server's database: migrate, users, sessions.
SETUP = r"""
import json, os, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from ingest.models import ChatSource

def cookie(user):
    c = Client()
    c.force_login(user)
    return c.cookies[settings.SESSION_COOKIE_NAME].value

mods = Group.objects.get_or_create(name="moderator")[0]
mod = User.objects.create_user("mod", password=os.environ["BROWSER_TEST_PASSWORD"])
mod.groups.add(mods)
boss = User.objects.create_user("boss", password="unused-" + "x" * 20, is_staff=True)
plain = User.objects.create_user("plain", password="unused-" + "x" * 20)
src = ChatSource.objects.create(
    platform="replay", identifier="browser-show", name="Browser show",
    settings={"path": "chat.jsonl", "follow": True, "poll_seconds": 0.05},
)
ChatSource.objects.create(
    platform="replay", identifier="escape", name="Escaping source",
    settings={"path": "../outside.jsonl"},
)
print(json.dumps({
    "cookie_name": settings.SESSION_COOKIE_NAME,
    "mod": cookie(mod), "boss": cookie(boss), "plain": cookie(plain), "source_id": src.pk,
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, tmp: Path):
        from cryptography.fernet import Fernet

        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.replay = tmp / "replay" / "chat.jsonl"
        self.replay.parent.mkdir(parents=True, exist_ok=True)
        self.replay.touch()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "pollsite.settings",
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{tmp / 'chorus.sqlite3'}",
            "REDIS_URL": "",
            "INGEST_IN_PROCESS": "true",
            "INGEST_SOURCE_SYNC_SECONDS": "0.5",
            "INGEST_FLUSH_MS": "20",
            "CHORUS_DATA_DIR": str(tmp),
            "CHORUS_REPLAY_DIR": str(tmp / "replay"),
            "SECRET_KEY": "browser-test-" + uuid.uuid4().hex,
            "CHORUS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "BROWSER_TEST_PASSWORD": "pw-" + uuid.uuid4().hex,
        }
        self.proc: subprocess.Popen | None = None
        self.log = (tmp / "server.log").open("ab")

    def setup(self) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", SETUP],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    def django(self, code: str) -> str:
        """Run Python against the server's database (a separate process, like an admin would)."""
        out = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "pollsite.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "on",
                "--log-level", "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.logs()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/accounts/login/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start in 30 s: {self.logs()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def logs(self) -> str:
        self.log.flush()
        return (self.tmp / "server.log").read_text(errors="replace")

    def chat(self, *events: dict) -> None:
        """Append normalized ChatEvents to the followed replay file (the live chat)."""
        with self.replay.open("a", encoding="utf-8") as fh:
            for ev in events:
                fh.write(json.dumps(ev, ensure_ascii=False) + "\n")


def message(text, *, who=("u1", "alice", "Alice"), platform="twitch", **kw) -> dict:
    uid, login, name = who
    return {
        "kind": kw.pop("kind", "message"),
        "platform": platform,
        "id": kw.pop("id", "b-" + uuid.uuid4().hex),
        "author": {"id": uid, "login": login, "display_name": name, "roles": kw.pop("roles", [])},
        "text": text,
        "sent_at": datetime.now(UTC).isoformat(),
        **kw,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("dash"))
    srv.info = srv.setup()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def open_dashboard(server, browser):
    contexts = []

    def _open(who="mod"):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.add_cookies(
            [{"name": server.info["cookie_name"], "value": server.info[who], "url": server.url}]
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.console_errors = []
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))
        resp = page.goto(server.url + "/dashboard/")
        assert resp.status == 200
        page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def row(page, text):
    """The dashboard row whose message text is exactly ``text``."""
    return page.locator("li.msg", has=page.locator(".msg-text", has_text=text)).first


def test_plain_user_gets_403_and_login_logout_flow(server, browser):
    ctx = browser.new_context()
    ctx.add_cookies(
        [{"name": server.info["cookie_name"], "value": server.info["plain"], "url": server.url}]
    )
    page = ctx.new_page()
    assert page.goto(server.url + "/dashboard/").status == 403
    assert "for staff and moderators" in page.locator("main").inner_text()
    assert page.locator("#messages").count() == 0
    ctx.close()
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(server.url + "/dashboard/")
    assert page.url.startswith(server.url + "/accounts/login/")
    page.get_by_label("Username").fill("mod")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert "did not match" in page.locator(".form-error").inner_text()
    page.get_by_label("Username").fill("mod")
    page.get_by_label("Password").fill(server.env["BROWSER_TEST_PASSWORD"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)
    assert page.url == server.url + "/dashboard/"
    page.get_by_role("button", name="Log out").click()
    assert page.url.startswith(server.url + "/accounts/login/")
    assert page.goto(server.url + "/dashboard/").url.startswith(server.url + "/accounts/login/")
    ctx.close()


def test_live_message_appears_without_reload_with_author_roles_and_amount(server, open_dashboard):
    page = open_dashboard("mod")
    page.evaluate("window.__marker = 'same page'")
    server.chat(
        message(
            "first live line",
            who=("u7", "zoe_k", "Zoë K."),
            roles=["moderator", "subscriber"],
        ),
        message(
            "thanks for the show",
            who=("u8", "kwame", "Kwame"),
            platform="youtube",
            kind="paid",
            amount="5",
            currency="USD",
            amount_display="$5.00",
        ),
    )
    paid = row(page, "thanks for the show")
    paid.wait_for(timeout=WAIT_MS)
    assert paid.locator(".amount").inner_text() == "$5.00"
    assert paid.locator(".badge").inner_text().lower() == "youtube"
    assert paid.locator(".kind").inner_text() == "paid"
    live = row(page, "first live line")
    assert live.locator(".author-name").inner_text() == "Zoë K."
    assert live.locator(".author-login").inner_text() == "@zoe_k"
    assert [r.lower() for r in live.locator(".role").all_inner_texts()] == ["moderator", "subscriber"]
    # Newest first, and it arrived over the socket: the page was never reloaded.
    texts = page.locator("li.msg .msg-text").all_inner_texts()
    assert texts.index("thanks for the show") < texts.index("first live line")
    assert page.evaluate("window.__marker") == "same page"
    assert not page.console_errors


def test_hostile_chat_is_shown_as_literal_text(server, open_dashboard):
    page = open_dashboard("mod")
    img = "<img src=x onerror=alert(1)>"
    script = "<script>alert(2)</script><b>bold?</b>"
    evil_name = '<img src=y onerror="alert(3)">'
    server.chat(
        message(img, who=("u9", "evil", evil_name)),
        message(script, who=("u9", "evil", evil_name)),
    )
    for text in (img, script):
        row(page, text).wait_for(timeout=WAIT_MS)
        assert row(page, text).locator(".msg-text").inner_text() == text
    assert row(page, img).locator(".author-name").inner_text() == evil_name
    assert page.locator("#messages img, #messages script, #messages b").count() == 0
    # The same rows loaded from storage (messages.query after a reload) are just as inert.
    page.reload()
    page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)
    row(page, img).wait_for(timeout=WAIT_MS)
    assert row(page, script).locator(".msg-text").inner_text() == script
    assert page.locator("#messages img, #messages script, #messages b").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_a_change_on_one_dashboard_shows_on_the_other(server, open_dashboard):
    a = open_dashboard("mod")
    b = open_dashboard("boss")
    text = "please review me " + uuid.uuid4().hex[:6]
    server.chat(message(text, who=("u3", "yamada_taro", "山田太郎"), roles=["vip"]))
    row(a, text).wait_for(timeout=WAIT_MS)
    row(b, text).wait_for(timeout=WAIT_MS)

    ra = row(a, text)
    ra.get_by_role("button", name="Reviewed").focus()  # keyboard-usable: real buttons
    a.keyboard.press("Enter")
    ra.locator(".note-input").fill("asked on air <ok>")
    ra.locator(".note-input").press("Enter")

    rb = row(b, text)
    b.wait_for_function(
        "el => el.dataset.status === 'reviewed'", arg=rb.element_handle(), timeout=WAIT_MS
    )
    assert rb.locator(".status-chip").inner_text() == "Reviewed"
    assert rb.get_by_role("button", name="Reviewed").get_attribute("aria-pressed") == "true"
    b.wait_for_function(
        "el => el.querySelector('.note-input').value === 'asked on air <ok>'",
        arg=rb.element_handle(),
        timeout=WAIT_MS,
    )
    meta = rb.locator(".msg-meta").inner_text()
    assert "status by mod" in meta and "by mod" in meta.split("last change:")[1]

    # And back: boss selects it for display; mod sees it on display.
    rb.get_by_role("button", name="Display").click()
    a.wait_for_function(
        "el => el.querySelector('.display-btn').getAttribute('aria-pressed') === 'true'",
        arg=ra.element_handle(),
        timeout=WAIT_MS,
    )
    assert "by boss" in ra.locator(".msg-meta").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    a.screenshot(path=str(ARTIFACTS / "dashboard.png"))


def test_platform_deletion_strikes_the_row_and_takes_it_off_display(server, open_dashboard):
    page = open_dashboard("mod")
    mid = "del-" + uuid.uuid4().hex
    text = "this will be deleted " + mid[-6:]
    server.chat(message(text, id=mid, who=("u12", "troll_account", "troll_account")))
    r = row(page, text)
    r.wait_for(timeout=WAIT_MS)
    r.get_by_role("button", name="Display").click()
    page.wait_for_function(
        "el => el.classList.contains('selected')", arg=r.element_handle(), timeout=WAIT_MS
    )

    server.chat(
        {
            "kind": "deletion",
            "platform": "twitch",
            "id": "ev-" + mid,
            "target_message_id": mid,
            "moderator": "Mod Marta",
            "reason": "spam",
        }
    )
    page.wait_for_function(
        "el => el.classList.contains('removed')", arg=r.element_handle(), timeout=WAIT_MS
    )
    assert "line-through" in r.locator(".msg-text").evaluate(
        "el => getComputedStyle(el).textDecorationLine"
    )
    removal = r.locator(".removal").inner_text()
    assert "Deleted" in removal and "Mod Marta" in removal and "spam" in removal
    display = r.locator(".display-btn")
    assert display.get_attribute("aria-pressed") == "false" and display.is_disabled()
    assert "selected" not in (r.get_attribute("class") or "")
    assert "Mod Marta" in page.locator("#modlog").inner_text()

    # A timeout strikes the author's earlier messages and says until when.
    spam = "buy followers " + mid[-6:]
    server.chat(message(spam, who=("u13", "spammer", "Spammer")))
    row(page, spam).wait_for(timeout=WAIT_MS)
    server.chat(
        {
            "kind": "timeout",
            "platform": "twitch",
            "id": "to-" + mid,
            "author": {"id": "u13", "login": "spammer", "display_name": "Spammer"},
            "duration_seconds": 600,
            "moderator": "StreamHost",
            "reason": "links",
        }
    )
    sr = row(page, spam)
    page.wait_for_function(
        "el => el.classList.contains('removed')", arg=sr.element_handle(), timeout=WAIT_MS
    )
    removal = sr.locator(".removal").inner_text()
    assert "Timed out" in removal and "StreamHost" in removal and "until" in removal
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-removed.png"))


def test_source_health_is_shown_and_updated_live(server, open_dashboard):
    page = open_dashboard("mod")
    src = page.locator(f'#sources li[data-source-id="{server.info["source_id"]}"]')
    assert "Connected" in src.locator(".source-state").inner_text()
    broken = page.locator("#sources li", has_text="Escaping source")
    assert broken.locator(".source-state").inner_text() == "Failed"
    assert "inside CHORUS_REPLAY_DIR" in broken.locator(".source-reason").inner_text()
    # A source added while the page is open shows up, and its health changes live.
    server.django(
        "from ingest.models import ChatSource\n"
        "ChatSource.objects.create(platform='replay', identifier='late', name='Late show',"
        " settings={'path': 'missing.jsonl'})"
    )
    late = page.locator("#sources li", has_text="Late show")
    late.locator(".source-state", has_text="Failed").wait_for(timeout=WAIT_MS)
    assert "does not exist" in late.locator(".source-reason").inner_text()
    assert page.locator("#filter-source option", has_text="Late show").count() == 1


def test_error_frames_are_shown(server, open_dashboard):
    page = open_dashboard("mod")
    page.evaluate("window.chorusDashboard.socket.ws.send('{\"type\": \"launch.missiles\"}')")
    page.locator("#errors", has_text="unknown frame type").wait_for(timeout=WAIT_MS)


def test_filters_apply_to_the_query_and_to_live_arrivals(server, open_dashboard):
    page = open_dashboard("mod")
    tag = uuid.uuid4().hex[:6]
    page.locator("#filters input[name=text]").fill("needle " + tag)
    page.locator("#filters button[type=submit]").click()
    page.wait_for_selector("#empty:not([hidden])", timeout=WAIT_MS)
    server.chat(message("hay " + tag), message("a needle " + tag + " here"))
    row(page, "a needle " + tag).wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(500)  # give the non-matching one every chance to (wrongly) show
    assert page.locator("li.msg .msg-text").all_inner_texts() == ["a needle " + tag + " here"]


def test_reconnects_after_a_network_drop_and_fills_the_gap(server, browser, open_dashboard):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.add_cookies(
        [{"name": server.info["cookie_name"], "value": server.info["mod"], "url": server.url}]
    )
    page = ctx.new_page()
    net = {"down": False, "routes": []}

    def route(ws):
        if net["down"]:
            ws.close(code=4000, reason="network down")
            return
        upstream = ws.connect_to_server()
        net["routes"].append((ws, upstream))

    page.route_web_socket("**/ws/moderation/", route)
    page.goto(server.url + "/dashboard/")
    page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)

    net["down"] = True  # the network drops: open sockets die, new ones cannot connect
    for ws, upstream in net["routes"]:
        upstream.close()
        ws.close(code=4000, reason="network down")
    page.wait_for_selector("#conn.conn-reconnecting", timeout=WAIT_MS)
    assert "reconnecting" in page.locator("#conn").inner_text().lower()

    missed = "said while you were away " + uuid.uuid4().hex[:6]
    server.chat(message(missed))
    other = open_dashboard("boss")  # proves it was stored and broadcast while we were away
    row(other, missed).wait_for(timeout=WAIT_MS)
    assert row(page, missed).count() == 0

    net["down"] = False
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the browser's "back online"
    page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)
    row(page, missed).wait_for(timeout=WAIT_MS)
    ctx.close()


def test_first_page_then_load_older(server, open_dashboard):
    page = open_dashboard("mod")
    tag = uuid.uuid4().hex[:6]
    server.chat(*[message(f"bulk {tag} {n:03d}") for n in range(120)])
    row(page, f"bulk {tag} 119").wait_for(timeout=WAIT_MS)
    page.reload()
    page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)
    page.wait_for_selector("li.msg", timeout=WAIT_MS)
    assert page.locator("li.msg").count() == 100
    texts = page.locator("li.msg .msg-text").all_inner_texts()
    assert texts[0] == f"bulk {tag} 119" and texts[-1] == f"bulk {tag} 020"
    older = page.get_by_role("button", name="Load older messages")
    older.click()
    page.wait_for_function("document.querySelectorAll('li.msg').length > 100", timeout=WAIT_MS)
    texts = page.locator("li.msg .msg-text").all_inner_texts()
    bulk = [t for t in texts if t.startswith(f"bulk {tag}")]
    assert bulk == [f"bulk {tag} {n:03d}" for n in range(119, -1, -1)]
    assert len(set(texts)) == len(texts)  # no row twice
