"""Publishing on the channel layer: every frame is rendered to JSON ONCE, then fanned out.

Groups (names must match ``^[a-zA-Z0-9-_.]+$``):
- ``moderation``: every moderation dashboard.
- ``source.<id>``: listeners of one chat source.
Consumers forward ``frame.forward`` messages verbatim (see consumers/base.py).
"""

from __future__ import annotations

import json
import logging

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

MODERATION_GROUP = "moderation"


def source_group(source_id: int) -> str:
    return f"source.{source_id}"


def render(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


async def publish(groups: str | list[str], frame: dict) -> None:
    """Send one frame to one or more groups. The frame is serialized once."""
    layer = get_channel_layer()
    if layer is None:
        return
    text = render(frame)
    for group in [groups] if isinstance(groups, str) else groups:
        await layer.group_send(group, {"type": "frame.forward", "frame": text})


def publish_sync(groups: str | list[str], frame: dict) -> None:
    from asgiref.sync import async_to_sync

    async_to_sync(publish)(groups, frame)
