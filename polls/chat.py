"""Chat votes: the pipeline listener that turns stored chat messages into meeting answers.

``on_batch`` receives every StoredBatch (see ingest/pipeline.py). Per meeting attached to the
batch's sources it parses the commands (``#B``, ``#4``, ``#word``, ``!flag CODE``), maps each chat
author to a participant (platform + platform user id) in bulk, and records all answers with ONE
``record_answers``/``record_words`` call: a few queries per batch, however many votes it holds.
Dashboards get the meeting's chat (one ``chat.messages`` frame per batch) and a ``chat.votes``
summary; results follow through the throttled live update. Outside the meeting's window
(polls/window.py) every command is refused; a batch after ``ends_at`` ends the meeting if no timer
did yet, and the new state is published.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from ingest.publish import publish

from . import live, services
from .aio import db as database_sync_to_async
from .models import Meeting, MeetingState, QuestionKind, QuestionStatus
from .parsing import parse_chat_command

log = logging.getLogger(__name__)


async def on_batch(stored) -> None:
    if not stored.message_objects:
        return
    report = await database_sync_to_async(process_chat)(stored.message_objects, stored.messages)
    for meeting_id, info in report.items():
        group = live.host_group(meeting_id)
        if info["ended"]:
            await live.publish_state(meeting_id)
        if info["chat"]:
            await publish(group, {"type": "chat.messages", "messages": info["chat"]})
        if info["accepted"] or info["refused"]:
            await publish(
                group,
                {"type": "chat.votes", "accepted": info["accepted"], "refused": info["refused"]},
            )
        if info["captures"]:
            await live.publish_captures(meeting_id, info["captures"])
        if info["accepted"] or info["new_participants"]:
            live.touch(meeting_id)


def process_chat(messages: list, serialized: list[dict]) -> dict[int, dict]:
    source_ids = {m.source_id for m in messages}
    links = Meeting.sources.through.objects.filter(chatsource_id__in=source_ids).exclude(
        meeting__state=MeetingState.AFTER
    )
    sources_of: dict[int, set[int]] = defaultdict(set)
    for mid, sid in links.values_list("meeting_id", "chatsource_id"):
        sources_of[mid].add(sid)
    if not sources_of:
        return {}
    meetings = Meeting.objects.filter(pk__in=list(sources_of)).select_related("current_question")
    report = {}
    for m in meetings:
        mine = [msg for msg in messages if msg.source_id in sources_of[m.pk]]
        info = {
            "chat": [d for d in serialized if d.get("source_id") in sources_of[m.pk]],
            "accepted": 0,
            "refused": 0,
            "captures": [],
            "new_participants": 0,
            "ended": False,
        }
        report[m.pk] = info
        refusal = services.window_refusal(m)
        if m.state == MeetingState.BEFORE and refusal is None:
            continue
        commands = []
        for msg in mine:
            if msg.kind != "message" or msg.author_id is None:
                continue
            cmd = parse_chat_command(msg.text, m.chat_prefix, m.flag_command)
            if cmd is not None:
                commands.append((msg, cmd))
        if refusal is not None:
            # Outside the window: nothing counts (and an ended window ends the meeting now).
            info["refused"] += len(commands)
            if refusal == services.ENDED_OUTCOME:
                info["ended"] = services.end_if_over(m.pk) is not None
            continue
        if not commands:
            continue
        authors = {msg.author_id: msg.author for msg, _ in commands}
        pmap = services.participants_for_authors(m.pk, authors)
        info["new_participants"] = len(authors)
        answers = [(msg, cmd) for msg, cmd in commands if cmd.kind == "answer"]
        q = m.current_question
        if answers:
            open_ = (
                q is not None
                and m.state == MeetingState.ONGOING
                and q.status == QuestionStatus.OPEN
            )
            if not open_:
                info["refused"] += len(answers)
            elif q.kind == QuestionKind.WORDCLOUD:
                res = services.record_words(
                    q.pk, [(pmap[msg.author_id], cmd.arg) for msg, cmd in answers], meeting_id=m.pk
                )
                _count(info, res.outcomes)
            elif q.takes_answers:
                res = services.record_answers(
                    q.pk,
                    [
                        services.Answer(
                            pmap[msg.author_id],
                            raw=cmd.arg,
                            at=msg.received_at,
                            via=msg.platform,
                            chat_message_id=msg.pk,
                        )
                        for msg, cmd in answers
                    ],
                    meeting_id=m.pk,
                )
                _count(info, res.outcomes)
            else:
                info["refused"] += len(answers)
        for msg, cmd in commands:
            if cmd.kind != "flag":
                continue
            try:
                result = services.submit_flag(m.pk, pmap[msg.author_id], cmd.arg)
            except services.ServiceError:
                continue
            if "error" not in result:
                info["captures"].append(result)
    return report


def _count(info, outcomes):
    for o in outcomes:
        if o in (services.OK, services.CHANGED):
            info["accepted"] += 1
        else:
            info["refused"] += 1
