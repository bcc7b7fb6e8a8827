"""The websocket protocol as JSON Schema (docs/protocol.schema.json), made from the same pydantic
models the consumers validate with: every channel, both directions.

    python manage.py protocol_schema > docs/protocol.schema.json

tests/test_protocol_schema.py fails when the committed file differs from what the code makes.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from .base import PROTOCOL_VERSION

REF = {"type": ["string", "integer"], "description": "echoed in the ack/error that answers it"}


def _consumers():
    from .bots import BotsConsumer
    from .meeting import HostConsumer, ParticipantConsumer
    from .moderation import ModerationConsumer
    from .overlay import OverlayConsumer

    return {
        "/ws/moderation/": ModerationConsumer,
        "/ws/meeting/<join code>/": ParticipantConsumer,
        "/ws/host/<meeting id>/": HostConsumer,
        "/ws/overlay/<token>/": OverlayConsumer,
        "/ws/bots/<meeting id>/": BotsConsumer,
    }


def _server_frames(channel: str) -> dict[str, type[BaseModel]]:
    from . import bots_protocol, meeting_protocol, overlay_protocol, protocol

    if channel == "moderation":
        return protocol.SERVER_FRAMES
    if channel in ("meeting", "meeting-host"):
        tables = meeting_protocol
        own = tables.PARTICIPANT_FRAMES if channel == "meeting" else tables.HOST_FRAMES
        return {**tables.COMMON, **own}
    if channel == "overlay":
        return overlay_protocol.OVERLAY_FRAMES
    if channel == "bots":
        return {**bots_protocol.SERVER_FRAMES, "ack": protocol.Ack, "error": protocol.Error}
    raise KeyError(channel)


def _command_schema(name: str, model: type[BaseModel]) -> dict:
    schema = model.model_json_schema()
    schema["properties"] = {
        "type": {"const": name},
        "ref": REF,
        **schema.get("properties", {}),
    }
    schema["required"] = ["type", *schema.get("required", [])]
    schema["additionalProperties"] = False  # unknown fields are refused (error "invalid")
    schema["title"] = name
    return schema


def protocol_schema() -> dict:
    channels = {}
    for path, consumer in _consumers().items():
        commands = {
            name: _command_schema(name, spec.schema)
            for name, spec in sorted(consumer._commands.items())
        }
        events = {
            name: model.model_json_schema()
            for name, model in sorted(_server_frames(consumer.channel).items())
        }
        channels[consumer.channel] = {
            "path": path,
            "client_to_server": commands,
            "server_to_client": events,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Chorus websocket protocol",
        "description": "Generated from consumers/*_protocol.py by `python manage.py "
        "protocol_schema`; docs/protocol.md explains each frame.",
        "protocol": PROTOCOL_VERSION,
        "channels": channels,
    }


def render() -> str:
    return json.dumps(protocol_schema(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
