"""Votes from stream chat, through the real pipeline and the polls.chat listener."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingest.pipeline import Pipeline
from polls import services as svc
from polls.chat import on_batch, process_chat
from polls.models import Participant, Vote, Word
from polls.models import QuestionKind as K
from tests.factories import author, msg, source
from tests.meetings import standard
from tests.test_meeting_sockets import call, host_socket, recv_until

pytestmark = [pytest.mark.django_db(transaction=True)]


@sync_to_async
def setup():
    m = standard()
    tw = source(platform="twitch", identifier="chan")
    yt = source(platform="youtube", identifier="vid")
    other = source(platform="twitch", identifier="elsewhere")
    m.sources.set([tw, yt])
    return m, tw, yt, other


@sync_to_async
def go(m, kind):
    q = m.questions.get(kind=kind)
    svc.apply_command(m.pk, "goto", q.pk)
    return q


async def test_chat_votes_words_ratings_and_flags_reach_the_meeting_and_dashboard():
    m, tw, yt, other = await setup()
    host, _, _ = await host_socket(m)
    pipeline = Pipeline(listeners=[on_batch])
    await call(host, "meeting.start")
    await go(m, K.POLL)
    # Same display name on two platforms: two participants. Same user twice: one vote.
    batch = [
        msg(tw, 1, "#B", who=author("t1", "sam", "Sam")),
        msg(yt, 2, "#blue", who=author("y1", "sam", "Sam")),
        msg(tw, 3, "#A", who=author("t1", "sam", "Sam")),  # change (allowed)
        msg(tw, 4, "#Z nonsense", who=author("t2", "zed", "Zed")),
        msg(tw, 5, "just chatting <b>hi</b>", who=author("t3", "x", "X")),
        msg(other, 6, "#B", who=author("o1", "o", "O"), id="o6"),  # not attached
    ]
    await pipeline.process(batch)
    chat = await recv_until(host, "chat.messages")
    assert [c["text"] for c in chat["messages"]] == [e.text for e in batch[:5]]
    votes = await recv_until(host, "chat.votes")
    assert votes["accepted"] == 3 and votes["refused"] == 1
    live = await recv_until(
        host, "results", pred=lambda f: f["results"] and f["results"]["total"] == 2
    )
    assert [c["count"] for c in live["results"]["choices"]] == [1, 0, 1]
    platforms = await sync_to_async(
        lambda: sorted(Participant.objects.values_list("platform", "nickname"))
    )()
    assert platforms == [("twitch", "Sam"), ("twitch", "Zed"), ("youtube", "Sam")]
    # Quiz from chat scores on the scoreboard with the platform.
    await go(m, K.QUIZ)
    await pipeline.process(
        [
            msg(yt, 10, "#2", who=author("y1", "sam", "Sam")),
            msg(tw, 11, "#3", who=author("t2", "zed", "Zed")),
        ]
    )
    await go(m, K.WORDCLOUD)
    await pipeline.process(
        [
            msg(tw, 20, "#Rust", who=author("t2", "zed", "Zed")),
            msg(yt, 21, "#rust!", who=author("y1", "sam", "Sam")),
            msg(yt, 22, "#spam", who=author("y1", "sam", "Sam")),
        ]
    )
    await go(m, K.RATING)
    await pipeline.process(
        [
            msg(tw, 30, "#4", who=author("t2", "zed", "Zed")),
            msg(yt, 31, "#40", who=author("y1", "sam", "Sam")),
        ]
    )
    await pipeline.process([msg(tw, 40, "!flag FLAG{s3cret}", who=author("t2", "zed", "Zed"))])
    cap = await recv_until(host, "flag.captured")
    assert cap["captures"][0]["participant"]["platform"] == "twitch"
    words = await sync_to_async(lambda: sorted(Word.objects.values_list("word", flat=True)))()
    assert words == ["rust", "rust"]
    ratings = await sync_to_async(
        lambda: list(Vote.objects.filter(question__kind=K.RATING).values_list("value", flat=True))
    )()
    assert ratings == [4]
    scores = await sync_to_async(
        lambda: dict(Participant.objects.values_list("platform_user_id", "score"))
    )()
    # y1: "#2" = 2nd choice "4", correct and first (1 + 1 bonus); t2: "#3" = 3rd choice "Four",
    # also correct (1), plus the flag with first blood (10 + 5).
    assert scores == {"t1": 0, "y1": 2, "t2": 16}
    await host.disconnect()


async def test_chat_answers_when_nothing_is_open_are_refused_not_crashing():
    m, tw, _, _ = await setup()
    await sync_to_async(svc.apply_command)(m.pk, "start")
    report = await sync_to_async(process_chat)(
        await sync_to_async(lambda: _stored([msg(tw, 1, "#A")]))(), []
    )
    assert report[m.pk]["refused"] == 1 and report[m.pk]["accepted"] == 0


def _stored(events):
    from ingest.store import store_batch

    return store_batch(events).message_objects


@pytest.mark.django_db(transaction=True)
def test_a_chat_burst_is_processed_in_a_bounded_number_of_queries():
    m = standard()
    tw = source(platform="twitch", identifier="burst")
    m.sources.set([tw])
    poll = m.questions.get(kind=K.POLL)
    svc.apply_command(m.pk, "goto", poll.pk)
    n = 500
    stored = _stored(
        [msg(tw, i, f"#{'ABC'[i % 3]}", who=author(f"u{i}", f"u{i}", f"U{i}")) for i in range(n)]
    )
    with CaptureQueriesContext(connection) as ctx:
        report = process_chat(stored, [])
    assert report[m.pk]["accepted"] == n
    # A few queries per batch (SQLite splits bulk inserts in chunks), never one per vote.
    assert len(ctx.captured_queries) < 50, len(ctx.captured_queries)
    assert Vote.objects.filter(question=poll).count() == n
    # Re-delivery of the same burst (a reconnecting adapter) counts nothing twice.
    report = process_chat(stored, [])
    assert Vote.objects.filter(question=poll).count() == n
