"""Bot rules with a fake clock: timers, cooldowns, roles, revolutions, parsing."""

import pytest

from bots.rules import (
    CommandGate,
    RevolutionCounter,
    Timer,
    TimerRotation,
    is_bot_message,
    parse_command,
    render_template,
    role_allows,
)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def advance(self, s):
        self.t += s


def test_timer_waits_for_interval_and_chat_lines_then_rotates():
    clock = Clock()
    rot = TimerRotation([Timer("a", 60, min_lines=5), Timer("b", 60, min_lines=5)], clock=clock)
    clock.advance(59)
    rot.on_chat_line(10)
    assert rot.due() is None  # interval not reached
    clock.advance(2)
    assert rot.due().key == "a"
    rot.posted()
    clock.advance(120)
    rot.on_chat_line(4)
    assert rot.due() is None  # silent chat: not spammed
    rot.on_chat_line(1)
    assert rot.due().key == "b"
    rot.posted()
    clock.advance(61)
    rot.on_chat_line(5)
    assert rot.due().key == "a"  # back to the first


def test_no_timers_is_not_a_crash():
    rot = TimerRotation([], clock=Clock())
    assert rot.due() is None
    rot.posted()


def test_command_cooldowns_global_and_per_user():
    clock = Clock()
    gate = CommandGate(global_cooldown=5, user_cooldown=30, clock=clock)
    assert gate.check("alice", []) is None
    gate.used("alice")
    assert gate.check("bob", []) == "cooling down"
    clock.advance(6)
    assert gate.check("bob", []) is None
    assert gate.check("alice", []) == "cooling down for this user"
    clock.advance(25)
    assert gate.check("alice", []) is None


@pytest.mark.parametrize(
    "audience,roles,ok",
    [
        ("everyone", [], True),
        ("subscribers", [], False),
        ("subscribers", ["member"], True),
        ("moderators", ["subscriber"], False),
        ("moderators", ["broadcaster"], True),
    ],
)
def test_roles(audience, roles, ok):
    assert role_allows(audience, roles) is ok
    gate = CommandGate(audience=audience, clock=Clock())
    assert (gate.check("u", roles) is None) is ok


def test_revolution_counts_distinct_viewers_inside_the_window():
    clock = Clock()
    rev = RevolutionCounter(threshold=3, window=10, cooldown=60, clock=clock)
    assert not rev.call("a")
    assert not rev.call("a")  # same viewer twice counts once
    assert rev.count() == 1
    clock.advance(11)  # a's call expired
    assert not rev.call("b")
    assert not rev.call("c")
    assert rev.count() == 2
    assert rev.call("d")  # third distinct viewer inside 10 s fires
    assert rev.count() == 0
    assert not rev.call("e") and not rev.call("f") and not rev.call("g")  # cooldown
    clock.advance(61)
    assert not rev.call("e") and not rev.call("f")
    assert rev.call("g")


def test_parse_command():
    p = parse_command("!Score  me please")
    assert (p.name, p.args) == ("score", "me please")
    p = parse_command("  !top")
    assert (p.name, p.args) == ("top", "")
    assert parse_command("hello !top") is None
    assert parse_command("!") is None
    assert parse_command("?join", prefix="?").name == "join"


def test_bot_messages_never_trigger_bots():
    assert is_bot_message("🤖 join at ...", "🤖")
    assert not is_bot_message("join at ...", "🤖")
    assert not is_bot_message("anything", "")


def test_templates_fill_known_variables_and_keep_unknown_ones():
    out = render_template(
        "Join at {join_url} with {code}; top: {top_scorer} {nope}",
        {"join_url": "http://x/j", "code": "ABC", "top_scorer": "Zoë"},
    )
    assert out == "Join at http://x/j with ABC; top: Zoë {nope}"
    assert render_template("broken {", {}) == "broken {"
    assert render_template("{0} {x.attr}", {}) == "{0} {x.attr}"
