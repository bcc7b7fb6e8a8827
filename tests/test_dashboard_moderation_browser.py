"""Moderating on the platform from the dashboard, in a real browser (see test_dashboard_browser.py
for the live server): Timeout on a replayed message strikes the author's rows through, Ban asks
first, refusals land in the error banner, the post box posts to the source's chat, and the buttons
only appear where the source's platform supports them."""

from __future__ import annotations

import uuid

import pytest

from tests.test_dashboard_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    WAIT_MS,
    message,
    open_dashboard,
    row,
    server,
)

pytestmark = [pytest.mark.browser]


def test_timeout_ban_errors_post_and_capabilities_from_the_dashboard(server, open_dashboard):  # noqa: F811
    page = open_dashboard("mod")
    tag = uuid.uuid4().hex[:6]
    spammer = ("u21", "spammy_" + tag, "Spammy " + tag)
    first, second = f"buy now {tag}", f"cheap followers {tag}"
    bystander = f"nice stream {tag}"
    server.chat(message(first, who=spammer), message(bystander, who=("u22", "kind", "Kind")),
                message(second, who=spammer))
    r = row(page, second)
    r.wait_for(timeout=WAIT_MS)
    for name in ("Delete on platform", "Timeout", "Ban"):
        assert r.get_by_role("button", name=name, exact=True).is_visible()

    # Ban asks first; declining (the test dismisses every dialog) changes nothing.
    r.get_by_role("button", name="Ban", exact=True).click()
    for _ in range(100):
        if page.dialogs:
            break
        page.wait_for_timeout(20)
    assert page.dialogs and ("Ban Spammy " + tag) in page.dialogs[-1]
    assert "removed" not in (r.get_attribute("class") or "")

    # Timeout for 120 s: the replay source applies it like the platform would, and the
    # moderation event strikes every message of that author through (not the bystander's).
    r.get_by_label("Timeout seconds").fill("120")
    r.get_by_role("button", name="Timeout", exact=True).click()
    page.wait_for_function(
        "el => el.classList.contains('removed')", arg=r.element_handle(), timeout=WAIT_MS
    )
    earlier = row(page, first)
    page.wait_for_function(
        "el => el.classList.contains('removed')", arg=earlier.element_handle(), timeout=WAIT_MS
    )
    assert "line-through" in r.locator(".msg-text").evaluate(
        "el => getComputedStyle(el).textDecorationLine"
    )
    removal = r.locator(".removal").inner_text()
    assert "Timed out" in removal and "by mod" in removal and "until" in removal
    assert "removed" not in (row(page, bystander).get_attribute("class") or "")
    assert r.locator(".pa-delete").is_disabled()  # already gone: nothing left to delete
    assert ("Spammy " + tag) in page.locator("#modlog").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-platform-timeout.png"))

    # A refusal from the server is shown in the error banner: the message vanished meanwhile.
    # (Same trip: a TikTok source with a message, for the capability check at the end.)
    gone = row(page, bystander)
    server.django(
        "from ingest.models import ChatMessage, ChatSource\n"
        "from ingest.store import store_batch\n"
        "from tests.factories import msg\n"
        f"ChatMessage.objects.filter(text={bystander!r}).delete()\n"
        f"src = ChatSource.objects.create(platform='tiktok', identifier='@tt{tag}', enabled=False)\n"
        f"store_batch([msg(src, 1, 'tiktok says {tag}', id='tt-{tag}')])\n"
    )
    gone.get_by_role("button", name="Delete on platform").click()
    page.locator("#errors", has_text="does not exist").wait_for(timeout=WAIT_MS)
    assert "Could not delete the message" in page.locator("#errors").inner_text()

    # Post to the source's chat from the side panel: it comes back as a chat message.
    source = page.locator(f'#sources li[data-source-id="{server.info["source_id"]}"]')
    text = f"<b>welcome</b> {tag}"
    source.locator(".post-input").fill(text)
    source.get_by_role("button", name="Post").click()
    posted = row(page, text)
    posted.wait_for(timeout=WAIT_MS)
    assert posted.locator(".author-name").inner_text() == "Chorus bot"
    assert source.locator(".post-input").input_value() == ""
    assert page.locator("#messages b").count() == 0
    assert not page.console_errors


    # Buttons only where the source's platform supports them: TikTok is read-only.
    page.reload()
    page.wait_for_selector("#conn.conn-open", timeout=WAIT_MS)
    tt = row(page, f"tiktok says {tag}")
    tt.wait_for(timeout=WAIT_MS)
    assert tt.locator(".platform-actions").is_hidden()
    assert row(page, second).locator(".platform-actions").is_visible()
    tiktok = page.locator("#sources li", has_text=f"@tt{tag}")
    assert tiktok.count() == 1 and tiktok.locator(".post-form").count() == 0
    assert source.locator(".post-form").count() == 1
    assert not page.console_errors
