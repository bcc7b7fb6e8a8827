"""docs/protocol.schema.json (JSON Schema of every websocket frame, both directions) is what the
code makes, and docs/protocol.md names every frame it lists."""

import json
from pathlib import Path

from consumers.schema import protocol_schema, render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_committed_json_schema_is_what_the_code_makes():
    committed = (DOCS / "protocol.schema.json").read_text()
    assert committed == render(), (
        "docs/protocol.schema.json is stale: "
        "python manage.py protocol_schema > docs/protocol.schema.json"
    )


def test_every_frame_of_the_schema_is_documented_in_protocol_md():
    doc = (DOCS / "protocol.md").read_text()
    missing = [
        f"{channel}: {name}"
        for channel, spec in protocol_schema()["channels"].items()
        for direction in ("client_to_server", "server_to_client")
        for name in spec[direction]
        if f"`{name}`" not in doc and f"\"type\": \"{name}\"" not in doc
    ]
    assert not missing


def test_a_command_schema_requires_its_type_and_refuses_unknown_fields():
    vote = protocol_schema()["channels"]["meeting"]["client_to_server"]["vote"]
    assert vote["properties"]["type"] == {"const": "vote"}
    assert vote["additionalProperties"] is False
    assert {"type", "question_id", "choice_id"} <= set(vote["required"])
    json.dumps(vote)  # plain JSON
