"""docs/protocol.md ("Meetings") stays in step with consumers/meeting_protocol.py and the
meeting consumers: the documented state object is a valid one, and every command is documented."""

import json
import re
from pathlib import Path

import pytest

from consumers.meeting import HostConsumer, ParticipantConsumer
from consumers.meeting_protocol import HostMeetingInfo, MeetingInfo
from polls.serializers import meeting_info
from tests.meetings import standard

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
MEETINGS = DOC.split("## Meetings", 1)[1].split("\n## ", 1)[0]


def section(title: str) -> str:
    return MEETINGS.split(f"### {title}", 1)[1].split("\n### ", 1)[0]


def state_example() -> dict:
    block = re.search(r"```json\n(.*?)```", section("The state object"), flags=re.S).group(1)
    return json.loads(block)


def test_the_documented_state_object_is_valid_and_names_every_meeting_field():
    meeting = state_example()["meeting"]
    MeetingInfo.model_validate(meeting)  # raises with the field and reason if the page is wrong
    assert set(meeting) == set(MeetingInfo.model_fields)
    host_only = set(HostMeetingInfo.model_fields) - set(MeetingInfo.model_fields)
    assert all(f"`meeting.{f}`" in section("The state object") for f in host_only)


@pytest.mark.django_db
def test_the_documented_question_names_every_field_of_a_poll_question():
    from polls.models import QuestionKind
    from polls.serializers import question_dict
    from tests.meetings import q

    documented = state_example()["question"]
    assert set(documented) == set(question_dict(q(standard(), QuestionKind.POLL)))
    assert "`question.description_html`" in section("The state object")


@pytest.mark.django_db
def test_the_serializer_matches_the_schema_with_and_without_a_window():
    from datetime import timedelta

    from django.utils import timezone

    m = standard()
    assert MeetingInfo.model_validate(meeting_info(m)).starts_at is None
    m.starts_at = timezone.now()
    m.ends_at = m.starts_at + timedelta(hours=1)
    m.save()
    info = MeetingInfo.model_validate(meeting_info(m))
    assert info.starts_at == m.starts_at and info.ends_at == m.ends_at


def test_the_window_and_its_error_codes_are_documented():
    window = section("The start/end window")
    for word in ("`not_started`", "`closed`", "`meeting.end`", "`ends_at`", "`starts_at`"):
        assert word in window, word
    assert "| `not_started` |" in DOC and "| `closed` |" in DOC  # the error code table


@pytest.mark.parametrize(
    ("consumer", "title"),
    [
        (ParticipantConsumer, "Channel `meeting` —"),
        (HostConsumer, "Channel `meeting-host` —"),
    ],
)
def test_every_command_is_in_its_channel_table(consumer, title):
    table = section(title)
    rows = set(re.findall(r"^\| `([a-z.]+)`(?: / `([a-z.]+)`)? \|", table, flags=re.M))
    documented = {name for row in rows for name in row if name}
    missing = sorted(set(consumer._commands) - documented)
    assert not missing, f"docs/protocol.md has no row for {missing}"
