"""docs/events.md stays in step with ingest/events.py, the store and the adapter interface.

The examples in the page are not decoration: every example event is validated against the model,
pushed through the real store, and must come out the way the page says; the example adapter is
run against a fake HTTP server.
"""

import json
import re
import types
from pathlib import Path

import httpx
import pytest

from ingest import pipeline
from ingest.adapters.base import REGISTRY, FatalAdapterError, SourceConfig
from ingest.events import (
    MESSAGE_KINDS,
    MODERATION_KINDS,
    SESSION_KINDS,
    Author,
    Badge,
    ChatEvent,
    Fragment,
    Kind,
    SessionInfo,
)
from ingest.models import ChatMessage, ModerationEvent, PlatformState
from ingest.store import CLEAR_WINDOW, store_batch
from tests.factories import source

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "events.md"
DOC = DOC_PATH.read_text()


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC, flags=re.M | re.S)


def example_events() -> list[dict]:
    events = []
    for block in code_blocks("json"):
        data = json.loads(block)
        if "kind" in data and "v" in data:
            events.append(data)
    return events


def mentioned(name: str) -> bool:
    return f"`{name}`" in DOC


# --- the page names everything the model has ---------------------------------------------------


def test_every_chat_event_field_is_documented():
    missing = [f for f in ChatEvent.model_fields if not mentioned(f)]
    assert not missing, f"docs/events.md does not document ChatEvent fields {missing}"


@pytest.mark.parametrize("model", [Author, Badge, Fragment, SessionInfo])
def test_every_nested_field_is_documented(model):
    missing = [f for f in model.model_fields if not mentioned(f)]
    assert not missing, f"docs/events.md does not document {model.__name__} fields {missing}"


def test_every_kind_is_documented_in_the_kinds_table():
    table = DOC.split("## Kinds", 1)[1].split("\n## ", 1)[0]
    missing = [k.value for k in Kind if f"| `{k.value}` |" not in table]
    assert not missing, f"docs/events.md has no row in 'Kinds' for {missing}"
    # ...in the right group.
    for k in Kind:
        row = re.search(rf"^\| `{re.escape(k.value)}` \| (\w+) \|", table, flags=re.M).group(1)
        expected = (
            "message"
            if k in MESSAGE_KINDS
            else "moderation"
            if k in MODERATION_KINDS
            else "session"
            if k in SESSION_KINDS
            else "edit"
        )
        assert row == expected, f"{k.value} is documented as {row}, events.py says {expected}"


def test_every_published_frame_and_platform_state_is_documented():
    source_code = Path(pipeline.__file__).read_text()
    frames = set(re.findall(r'"type": "([a-z.]+)"', source_code))
    assert {"chat.messages", "chat.updated", "chat.moderation", "source.sessions"} <= frames
    assert all(mentioned(f) for f in frames), frames
    assert all(mentioned(s.value) for s in PlatformState), list(PlatformState)
    assert "`CLEAR_WINDOW` (24 hours)" in DOC and CLEAR_WINDOW.total_seconds() == 24 * 3600


# --- the examples are real --------------------------------------------------------------------


def test_examples_cover_the_required_kinds_and_are_valid_events():
    examples = example_events()
    kinds = [e["kind"] for e in examples]
    for wanted in ("message", "paid", "deletion", "timeout", "clear", "stream-start"):
        assert wanted in kinds, f"docs/events.md has no example of a {wanted} event"
    assert {e.get("currency") for e in examples if e["kind"] == "paid"} >= {"bits", "USD"}
    for data in examples:
        ChatEvent.model_validate(data)  # raises with the field and reason if the page is wrong


def test_examples_are_stored_as_the_page_says(db):
    sources = {1: source("twitch", "examplechannel"), 2: source("youtube", "examplevideo")}
    events = []
    for data in example_events():
        data = dict(data, source_id=sources[data["source_id"]].pk)
        events.append(ChatEvent.model_validate(data))
    start = [e for e in events if e.kind == Kind.STREAM_START]
    messages = [e for e in events if e.is_message]
    moderation = [e for e in events if e.is_moderation]

    first = store_batch(start + messages)
    assert len(first.messages) == 3 and len(first.sessions) == 1
    by_id = {m.platform_message_id: m for m in ChatMessage.objects.all()}
    twitch_msg = by_id["b34ccfc7-4977-403a-8a94-33c6bac34fb8"]
    assert twitch_msg.text == "hello from Osaka PogChamp <b>hi</b>"  # verbatim
    assert twitch_msg.session_id == first.sessions[0]["id"]
    amounts = {m["currency"]: m["amount"] for m in first.messages if m["kind"] == "paid"}
    assert amounts == {"bits": "100", "USD": "5"}

    # Re-delivery (reconnect, replay) stores nothing twice.
    again = store_batch(messages)
    assert again.duplicates == 3 and not again.messages

    mods = store_batch(moderation)
    kinds = {m["kind"]: m for m in mods.moderation}
    assert set(kinds) == {"deletion", "timeout", "clear"}
    assert kinds["deletion"]["target_text"] == "hello from Osaka PogChamp <b>hi</b>"
    assert kinds["deletion"]["affected"] == [{"id": twitch_msg.pk, "platform_state": "deleted"}]
    bits = by_id["5c1e6a2e-0f00-4d1f-9c43-6f1c2f6b7a11"]
    assert kinds["timeout"]["affected"] == [{"id": bits.pk, "platform_state": "timed_out"}]
    assert kinds["timeout"]["ends_at"].startswith("2026-11-21T20:13:30")
    assert kinds["clear"]["affected"] == []  # nothing visible was left in that source
    states = dict(ChatMessage.objects.values_list("platform_message_id", "platform_state"))
    superchat = "LCC.CikqJwoYVUMtbEhKWjR4a0FfaUFYX0U2SkRsdWxBEgtBQkNERUZHSElKSw"
    assert states[superchat] == "visible"  # moderation in another source does not touch it
    assert ModerationEvent.objects.count() == 3
    assert store_batch(moderation).duplicates == 3


def test_documented_moderation_frame_matches_the_serializer_shape(db):
    frame = next(json.loads(b) for b in code_blocks("json") if '"type": "chat.moderation"' in b)
    src = source("twitch", "examplechannel")
    who = Author(id="777", login="kwame", display_name="Kwame")
    store_batch(
        [ChatEvent(kind="message", platform="twitch", id="x1", source_id=src.pk, author=who)]
    )
    stored = store_batch(
        [
            ChatEvent(
                kind="timeout",
                platform="twitch",
                id="t1",
                source_id=src.pk,
                author=who,
                duration_seconds=600,
            )
        ]
    )
    real = stored.moderation[0]
    assert set(frame["events"][0]) == set(real)
    assert set(frame["events"][0]["target_author"]) == set(real["target_author"])
    assert real["affected"] == [{"id": ChatMessage.objects.get().pk, "platform_state": "timed_out"}]


# --- the example adapter works ----------------------------------------------------------------


def _load_example_adapter():
    block = next(b for b in code_blocks("python") if "class ExampleAdapter" in b)
    namespace: dict = {"__name__": "docs_events_example"}
    exec(compile(block, "docs/events.md", "exec"), namespace)  # noqa: S102
    REGISTRY.pop("example", None)  # @register added it; keep the registry clean
    return namespace


def _run_example(namespace, responses, cursor="", settings=None):
    requests = []

    def handler(request):
        requests.append(request)
        status, body = responses.pop(0) if responses else (503, {})
        return httpx.Response(status, json=body)

    real_client = httpx.AsyncClient

    def client(**kw):
        return real_client(transport=httpx.MockTransport(handler), **kw)

    async def no_sleep(_seconds):
        return None

    namespace["httpx"] = types.SimpleNamespace(AsyncClient=client)
    namespace["asyncio"] = types.SimpleNamespace(sleep=no_sleep)
    emitted = []

    async def emit(event):
        emitted.append(event)

    cfg = SourceConfig(id=7, platform="example", identifier="chan1")
    adapter = namespace["ExampleAdapter"](cfg, emit, cursor=cursor)
    return adapter, emitted, requests


async def test_example_adapter_emits_events_skips_bad_items_and_resumes(settings):
    settings.EXAMPLE_API_URL = "http://fake.example"
    ns = _load_example_adapter()
    page = {
        "messages": [
            {
                "id": "a1",
                "user_id": "u1",
                "user_name": "Ann",
                "text": "hi",
                "time": "2026-11-21T20:00:00Z",
            },
            {"id": "a2", "user_name": "no user id", "text": "?", "time": "2026-11-21T20:00:01Z"},
            {
                "id": "a3",
                "user_id": "u2",
                "user_name": "Bo",
                "text": "<script>x</script>",
                "time": "2026-11-21T20:00:02Z",
            },
        ]
    }
    adapter, emitted, requests = _run_example(ns, [(200, page)])
    with pytest.raises(httpx.HTTPStatusError):  # the 503 after the page: reconnect with backoff
        await adapter.run()
    assert [(e.id, e.cursor, e.source_id, e.text) for e in emitted] == [
        ("a1", "a1", 7, "hi"),
        ("a3", "a3", 7, "<script>x</script>"),
    ]
    assert "a2" in adapter.status.detail  # the malformed item is reported, not fatal
    assert requests[0].url.path == "/channels/chan1/chat"
    assert requests[1].url.params["after"] == "a3"

    adapter, emitted, requests = _run_example(ns, [(200, {"messages": []})], cursor="a3")
    with pytest.raises(httpx.HTTPStatusError):
        await adapter.run()
    assert requests[0].url.params["after"] == "a3"  # resumes from the stored cursor

    adapter, _, _ = _run_example(ns, [(404, {})])
    with pytest.raises(FatalAdapterError, match="unknown channel 'chan1'"):
        await adapter.run()
