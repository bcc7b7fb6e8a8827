"""Pure rules of the meetings engine: state machine, scoring, chat commands, word normalization."""

from datetime import UTC, datetime

import pytest

from polls.models import JOIN_CODE_ALPHABET, new_join_code
from polls.models import MeetingState as S
from polls.models import QuestionKind as K
from polls.models import QuestionStatus as QS
from polls.parsing import (
    ChatCommand,
    Rejected,
    blocked_set,
    match_choice,
    normalize_word,
    parse_chat_command,
    parse_rating,
    strip_flag_wrapper,
)
from polls.scoring import answer_points, rank, timed_points
from polls.state import Slot, TransitionError, transition

PLAN = [
    Slot(K.TEXT, QS.PENDING),
    Slot(K.POLL, QS.PENDING),
    Slot(K.QUIZ, QS.PENDING),
]


def run(commands, plan=None, state=S.BEFORE, index=None):
    plan = [Slot(s.kind, s.status) for s in (PLAN if plan is None else plan)]
    for cmd in commands:
        target = None
        if isinstance(cmd, tuple):
            cmd, target = cmd
        t = transition(state, index, plan, cmd, target)
        for i, st in t.changes.items():
            plan[i].status = st
        state, index = t.state, t.index
    return state, index, plan


# --- state machine --------------------------------------------------------------------------
def test_full_walk_through_the_plan_ends_in_after_not_a_crash():
    state, index, plan = run(["start"])
    assert (state, index) == (S.WAITING, None)
    state, index, plan = run(["start", "next"])
    assert (state, index) == (S.WAITING, 0)  # text slide is shown, takes no answers
    state, index, plan = run(["start", "next", "next"])
    assert (state, index) == (S.ONGOING, 1) and plan[1].status == QS.OPEN
    state, index, plan = run(["start", "next", "next", "close", "results", "scoreboard"])
    assert (state, index) == (S.SCOREBOARD, 1) and plan[1].status == QS.CLOSED
    state, index, plan = run(["start", "next", "next", "next", "next"])
    assert (state, index) == (S.AFTER, None)
    assert [p.status for p in plan] == [QS.PENDING, QS.CLOSED, QS.CLOSED]
    with pytest.raises(TransitionError) as exc:
        run(["start", "next", "next", "next", "next", "next"])
    assert exc.value.code == "conflict"


def test_next_closes_the_open_question_and_previous_shows_its_results():
    state, index, plan = run(["next", "next", "next"])  # from BEFORE, next starts too
    assert (state, index) == (S.ONGOING, 2)
    assert plan[1].status == QS.CLOSED
    state, index, plan = run(["next", "next", "next", "previous"])
    assert (state, index) == (S.RESULTS, 1) and plan[2].status == QS.CLOSED


def test_previous_from_after_goes_to_last_question_and_reopen_keeps_answers_possible():
    state, index, plan = run(["next", "next", "next", "next", "previous"])
    assert (state, index) == (S.RESULTS, 2)
    state, index, plan = run(["next", "next", "next", "next", "previous", "reopen"])
    assert (state, index) == (S.ONGOING, 2) and plan[2].status == QS.OPEN


def test_invalid_transitions_are_refused_with_clear_codes():
    with pytest.raises(TransitionError, match="start the meeting"):
        run(["close"])
    with pytest.raises(TransitionError, match="already started"):
        run(["start", "start"])
    with pytest.raises(TransitionError, match="text slide"):
        run(["start", "next", "close"])
    with pytest.raises(TransitionError, match="not open"):
        run(["next", "next", "close", "close"])
    with pytest.raises(TransitionError, match="beginning"):
        run(["next", "next", "previous", "previous"])
    with pytest.raises(TransitionError, match="no such question"):
        run(["start", ("goto", 7)])


def test_goto_and_results_and_end():
    state, index, plan = run(["start", ("goto", 2)])
    assert (state, index, plan[2].status) == (S.ONGOING, 2, QS.OPEN)
    state, index, plan = run(["start", ("goto", 2), "results"])
    assert (state, plan[2].status) == (S.RESULTS, QS.CLOSED)
    state, index, plan = run(["start", ("goto", 2), "end"])
    assert (state, index, plan[2].status) == (S.AFTER, None, QS.CLOSED)


def test_empty_plan_lands_on_after():
    state, index, _ = run(["start", "next"], plan=[])
    assert (state, index) == (S.AFTER, None)


# --- scoring --------------------------------------------------------------------------------
def test_classic_points():
    assert answer_points(mode="classic", correct=True, points_correct=1) == 1
    assert answer_points(mode="classic", correct=False, points_correct=1) == 0
    assert answer_points(mode="classic", correct=True, points_correct=3, elapsed=99) == 3


def test_timed_points_decrease_but_never_below_half():
    assert timed_points(1000, 0, 20) == 1000
    assert timed_points(1000, 10, 20) == 750
    assert timed_points(1000, 20, 20) == 500
    assert timed_points(1000, 500, 20) == 500
    assert timed_points(1000, -3, 20) == 1000
    values = [timed_points(1000, t, 20) for t in range(0, 25)]
    assert values == sorted(values, reverse=True)


def test_timed_streak_bonus_and_wrong_answers():
    kw = dict(mode="timed", max_points=1000, elapsed=0, window=10, streak_bonus=100)
    assert answer_points(correct=True, streak_before=0, **kw) == 1000
    assert answer_points(correct=True, streak_before=3, **kw) == 1300
    assert answer_points(correct=False, streak_before=3, **kw) == 0


def test_scoreboard_ties_broken_by_who_reached_the_score_first():
    t = lambda s: datetime(2026, 1, 1, 12, 0, s, tzinfo=UTC)  # noqa: E731
    rows = [
        {"id": 1, "score": 5, "score_reached_at": t(30)},
        {"id": 2, "score": 5, "score_reached_at": t(10)},
        {"id": 3, "score": 7, "score_reached_at": t(50)},
    ]
    assert [r["id"] for r in rank(rows)] == [3, 2, 1]


# --- chat commands --------------------------------------------------------------------------
def test_parse_chat_commands():
    assert parse_chat_command("#B") == ChatCommand("answer", "B")
    assert parse_chat_command("  #1 because reasons") == ChatCommand("answer", "1")
    assert parse_chat_command("!flag FLAG{abc}") == ChatCommand("flag", "FLAG{abc}")
    assert parse_chat_command("!FLAG   abc") == ChatCommand("flag", "abc")
    assert parse_chat_command("!flag") is None
    assert parse_chat_command("hello #B") is None
    assert parse_chat_command("#") is None
    assert parse_chat_command("") is None
    assert parse_chat_command("?yes", prefix="?") == ChatCommand("answer", "yes")
    assert parse_chat_command("#yes", prefix="?") is None


def test_match_choice_by_token_number_or_slug():
    choices = [(10, "", "Red wine"), (11, "", "Blue"), (12, "x", "Green")]
    assert match_choice("A", choices) == 10
    assert match_choice("b", choices) == 11
    assert match_choice("x", choices) == 12
    assert match_choice("C", choices) is None  # third choice has its own token
    assert match_choice("3", choices) == 12
    assert match_choice("red-wine", choices) == 10
    assert match_choice("BLUE", choices) == 11
    assert match_choice("9", choices) is None
    assert match_choice("purple", choices) is None


def test_parse_rating():
    assert parse_rating("4", 5) == 4
    assert parse_rating(5, 5) == 5
    for bad in ("0", "6", "x", None, "4.5"):
        with pytest.raises(Rejected):
            parse_rating(bad, 5)


# --- words and flags ------------------------------------------------------------------------
def test_word_normalization():
    assert normalize_word("  Hello  ") == "hello"
    assert normalize_word("STRASSE") == normalize_word("straße")
    assert normalize_word("Ｗｉｄｅ") == "wide"  # NFKC
    assert normalize_word("#Python!") == "python"
    assert normalize_word("new   york") == "new york"
    blocked = blocked_set("Spam, eggs\nHam")
    assert blocked == {"spam", "eggs", "ham"}
    for bad, code in (
        ("SPAM", "blocked"),
        ("green eggs", "blocked"),
        ("a", "too_short"),
        ("x" * 31, "too_long"),
        ("  ", "invalid"),
        ("!!!", "invalid"),
    ):
        with pytest.raises(Rejected) as exc:
            normalize_word(bad, min_length=2, max_length=30, blocked=blocked)
        assert exc.value.code == code


def test_flag_wrapper():
    assert strip_flag_wrapper("FLAG{abc}", "FLAG") == "abc"
    assert strip_flag_wrapper("flag{abc}", "FLAG") == "abc"
    assert strip_flag_wrapper(" abc ", "FLAG") == "abc"
    assert strip_flag_wrapper("CTF{abc}", "FLAG") == "CTF{abc}"


def test_join_codes_are_random_and_unambiguous():
    codes = {new_join_code() for _ in range(200)}
    assert len(codes) == 200
    for c in codes:
        assert set(c) <= set(JOIN_CODE_ALPHABET)
    assert len(JOIN_CODE_ALPHABET) ** len(c) > 10**8  # still far too many to guess
    for a, b in ("0O", "1I", "1L", "8B", "5S", "2Z", "UV"):  # never both of a look-alike pair
        assert not (a in JOIN_CODE_ALPHABET and b in JOIN_CODE_ALPHABET), (a, b)


# --- the meeting's window -------------------------------------------------------------------
def test_window_phase_before_open_and_ended():
    from polls.window import ENDED, NOT_STARTED, OPEN, phase

    start = datetime(2030, 5, 1, 14, 0, tzinfo=UTC)
    end = datetime(2030, 5, 1, 15, 0, tzinfo=UTC)
    minute = start.replace(minute=1) - start
    assert phase(None, None, start) == OPEN  # no window, no restriction
    assert phase(start, end, start - minute) == NOT_STARTED
    assert phase(start, end, start) == OPEN  # opens AT starts_at
    assert phase(start, end, end - minute) == OPEN
    assert phase(start, end, end) == ENDED  # ends AT ends_at
    assert phase(start, None, end.replace(year=2040)) == OPEN
    assert phase(None, end, start.replace(year=2000)) == OPEN
    assert phase(None, end, end) == ENDED


def test_window_must_end_after_it_starts_and_messages_say_when():
    from polls.window import host_not_started_message, not_started_message, window_error

    start = datetime(2030, 5, 1, 14, 0, tzinfo=UTC)
    later = datetime(2030, 5, 1, 15, 0, tzinfo=UTC)
    assert window_error(start, later) is None
    assert window_error(None, later) is None and window_error(start, None) is None
    assert window_error(later, start) == "the end must be after the start"
    assert window_error(start, start) == "the end must be after the start"
    assert "2030-05-01 14:00" in not_started_message(start)
    msg = host_not_started_message(start)
    assert "2030-05-01 14:00" in msg and "admin" in msg and "dashboard" in msg
