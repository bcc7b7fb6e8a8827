"""Slack mrkdwn rendering (hostile input stays text), settings validation, the users cache."""

import pytest

from ingest.slack.config import SlackConfigError, parse_settings, resolve_credentials
from ingest.slack.convert import is_comment
from ingest.slack.mrkdwn import render
from ingest.slack.users import UserCache


def names(uid):
    return {"U1": "Ann <img src=x onerror=alert(1)>", "U2": "Bob"}.get(uid, "")


@pytest.mark.parametrize(
    "raw,html",
    [
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&lt;img src=x onerror=alert(1)&gt;", "&lt;img src=x onerror=alert(1)&gt;"),
        ("<@U1> hi", '<span class="mention">@Ann &lt;img src=x onerror=alert(1)&gt;</span> hi'),
        ("<@U2|bobby>", '<span class="mention">@bobby</span>'),
        (
            "<#C1|general> and <#C2>",
            '<span class="channel">#general</span> and <span class="channel">#C2</span>',
        ),
        (
            "<https://x.example/a?b=1&amp;c=2|the &lt;b&gt;results&lt;/b&gt;>",
            '<a href="https://x.example/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">'
            "the &lt;b&gt;results&lt;/b&gt;</a>",
        ),
        ("<javascript:alert(1)|click me>", "click me"),
        (
            '<https://x.example/" onmouseover="alert(1)|x>',
            '<a href="https://x.example/&quot; onmouseover=&quot;alert(1)" '
            'rel="nofollow noopener noreferrer">x</a>',
        ),
        ("<!here> vote now", "@here vote now"),
        (
            "*bold* _italic_ ~gone~ `a &lt;b&gt;`",
            "<b>bold</b> <i>italic</i> <s>gone</s> <code>a &lt;b&gt;</code>",
        ),
        ("a &amp;lt; b &amp;&amp; c &gt; d", "a &amp;lt; b &amp;&amp; c &gt; d"),
        ("line 1\nline 2", "line 1<br>line 2"),
        ("```\n&lt;b&gt;pre&lt;/b&gt;\n```", "<pre>&lt;b&gt;pre&lt;/b&gt;\n</pre>"),
        ("<b>", "b"),  # Slack never sends a raw "<": not a tag, not a link
    ],
)
def test_rendering_is_safe_html(raw, html):
    assert render(raw, names)[0] == html


def test_fragments_are_plain_text_in_order():
    _, fragments = render("hi <@U2>, see <https://x.example|this> &amp; more", names)
    assert fragments == [
        {"type": "text", "text": "hi "},
        {"type": "mention", "text": "@Bob"},
        {"type": "text", "text": ", see "},
        {"type": "link", "text": "this", "url": "https://x.example"},
        {"type": "text", "text": " & more"},
    ]


def test_comment_markers_compare_unescaped_text():
    prefixes = ["#>", "<#>"]
    assert is_comment("#&gt; note", prefixes)
    assert is_comment("   &lt;#&gt; note", prefixes)
    assert not is_comment("<#C123|general> is the place", prefixes)  # a channel link
    assert not is_comment("# > not quite", prefixes)
    assert not is_comment("hello #>", prefixes)


def test_settings_are_validated_with_clear_messages():
    s = parse_settings(
        {"publish": "approval", "approval_reaction": ":heavy_check_mark:", "comment_prefixes": "//"}
    )
    assert (s.approval_reaction, s.comment_prefixes, s.threads) == (
        "heavy_check_mark",
        ["//"],
        "include",
    )
    with pytest.raises(SlackConfigError, match="publish"):
        parse_settings({"publish": "sometimes"})
    with pytest.raises(SlackConfigError, match="threads"):
        parse_settings({"threads": "maybe"})


def test_credentials_source_then_account_then_environment(settings):
    settings.SLACK_BOT_TOKEN, settings.SLACK_APP_TOKEN = "xoxb-env", "xapp-env"
    settings.SLACK_SIGNING_SECRET = ""
    creds = resolve_credentials(
        {"bot_token": "xoxb-source"}, {"bot_token": "xoxb-account", "signing_secret": "acc"}
    )
    assert creds.bot_token == "xoxb-source"
    assert creds.app_token == "xapp-env"
    assert creds.signing_secret == "acc"


class FakeClient:
    def __init__(self):
        self.calls = 0
        self.title = "Reporter"

    def users_info(self, user):
        self.calls += 1
        return {
            "user": {
                "id": user,
                "name": "ann",
                "profile": {"display_name": "Ann", "title": self.title},
            }
        }


def test_users_are_cached_and_refreshed_after_the_ttl():
    now = [1000.0]
    client = FakeClient()
    cache = UserCache(client, ttl=86400, clock=lambda: now[0])
    assert cache.get("U1").title == "Reporter"
    client.title = "Editor"
    now[0] += 3600
    assert cache.get("U1").title == "Reporter" and client.calls == 1  # cached
    now[0] += 86400
    assert cache.get("U1").title == "Editor" and client.calls == 2  # refreshed daily
