"""The overlay socket: an OBS browser source, authenticated by the token in its URL only.

No session, no login (OBS cannot log in): the token is the credential, so the socket is routed
outside the Origin check (pollsite/asgi.py; see docs/protocol.md "Channel overlay" for why).
The hello frame carries the overlay's whole current state, so a page that reconnects after a
network drop or an OBS scene switch shows the right thing without a reload.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async

from overlays import live, services
from overlays.models import OverlayKind
from polls.live import host_group, participants_group

from .base import CLOSE_NOT_FOUND, RelayedConsumer, command
from .overlay_protocol import Ping

ALERTS_GROUP = "alerts.{}"  # bots/engine.py alerts_group
_RESULTS_PREFIX = '{"type":"results"'
_STATE_PREFIX = '{"type":"meeting.state"'


def _public_results_text(text: str) -> str:
    frame = json.loads(text)
    frame["results"] = services.public_results(frame.get("results"))
    frame.pop("participants", None)
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class OverlayConsumer(RelayedConsumer):
    """Groups are joined through overlays.fanout (one relay per group and process), not one
    channel-layer membership per socket: a frame to 2,000 overlays is one channel-layer message
    per server process."""

    channel = "overlay"
    _results_cache: tuple[str, str] = ("", "")

    async def authorize(self):
        token = self.scope["url_route"]["kwargs"]["token"]
        ov = await database_sync_to_async(services.find_overlay)(token)
        if ov is None:
            return CLOSE_NOT_FOUND
        self.overlay = ov
        self.meeting_frames = ov.kind in services.MEETING_KINDS
        return True

    async def groups_for(self):
        return []  # see overlay_groups / hello

    def overlay_groups(self) -> list[str]:
        ov = self.overlay
        groups = [live.overlay_group(ov.pk)]
        if ov.kind in (OverlayKind.FEATURED, OverlayKind.TICKER, OverlayKind.ALERTS):
            groups += [live.kind_group(ov.meeting_id, ov.kind), live.REMOVED_GROUP]
        if ov.kind == OverlayKind.ALERTS:
            groups.append(ALERTS_GROUP.format(ov.meeting_id))
        if self.meeting_frames:
            groups += [participants_group(ov.meeting_id), host_group(ov.meeting_id)]
        return groups

    def relay_groups(self) -> list[str]:
        return self.overlay_groups()

    async def hello(self):
        await self.listen()  # first, then read the state: nothing in between is lost
        ov = self.overlay
        state = await database_sync_to_async(services.initial_state)(ov)
        settings = services.effective_settings(ov)
        return {"overlay": services.overlay_public_dict(ov, settings), "state": state}

    def transform(self, text: str) -> str | None:
        if self.meeting_frames:
            # Of the meeting groups only the public state and the live results go on air; host
            # frames (plan, flags, chat) are dropped and quiz answers are taken out of results.
            if text.startswith(_RESULTS_PREFIX):
                cached_in, cached_out = OverlayConsumer._results_cache
                if cached_in is not text:
                    cached_out = _public_results_text(text)
                    OverlayConsumer._results_cache = (text, cached_out)
                text = cached_out
            elif not text.startswith(_STATE_PREFIX) and not text.startswith('{"type":"overlay.'):
                return None
        return text

    async def frame_forward(self, event):
        text = self.transform(event["frame"])
        if text is not None:
            await self.send(text_data=text)

    async def overlay_close(self, event):
        """The token was revoked or regenerated: say so, then hang up."""
        await self.send_frame({"type": "overlay.revoked"})
        await self.close(code=CLOSE_NOT_FOUND)

    @command("ping", Ping)
    async def ping(self, frame: Ping):
        return {"pong": True}
