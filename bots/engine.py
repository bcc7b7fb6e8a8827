"""The bot engine: reacts to stored chat (a pipeline listener) and posts timers.

Rules live in bots/rules.py; this module only wires them to meetings, chat sources and senders.
Configuration is re-read every few seconds (admin changes apply without restart); runtime state
(cooldowns, revolution windows, timer turns) survives the reload.

Revolution counters are published to the host dashboard's bots panel (group
``bots.meeting.<id>``) at most once per batch; a fired revolution is published as an ``alert``
frame to that panel and to ``alerts.<id>`` (the alerts overlay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from ingest.publish import publish
from ingest.senders import SendError, can_send, send_chat

from .rules import (
    CommandGate,
    RevolutionCounter,
    Timer,
    TimerRotation,
    is_bot_message,
    parse_command,
    render_template,
)

log = logging.getLogger(__name__)
RELOAD_SECONDS = 5.0
BUILTINS = ("score", "top", "join")


def panel_group(meeting_id: int) -> str:
    """The host dashboard's bots panel (consumers/bots.py)."""
    return f"bots.meeting.{meeting_id}"


def alerts_group(meeting_id: int) -> str:
    return f"alerts.{meeting_id}"


@dataclass
class MeetingConfig:
    id: int
    title: str
    join_code: str
    source_ids: set[int]
    prefix: str
    builtins: bool
    commands: list[dict]
    revolutions: list[dict]
    timers: list[dict]


@dataclass
class MeetingState:
    gates: dict = field(default_factory=dict)
    revolutions: dict = field(default_factory=dict)
    rotation: TimerRotation | None = None
    timer_keys: tuple = ()


def _load_configs() -> list[MeetingConfig]:
    from polls.models import Meeting

    out = []
    qs = (
        Meeting.objects.exclude(state="after")
        .filter(bot_config__enabled=True)
        .prefetch_related("sources", "commands", "revolutions", "timers")
        .select_related("bot_config")
    )
    for m in qs:
        cfg = m.bot_config
        out.append(
            MeetingConfig(
                id=m.pk,
                title=m.title,
                join_code=m.join_code,
                source_ids={s.pk for s in m.sources.all()},
                prefix=cfg.command_prefix or "!",
                builtins=cfg.builtin_commands,
                commands=[
                    {
                        "id": c.pk,
                        "names": c.names(),
                        "reply": c.reply,
                        "audience": c.audience,
                        "global": c.global_cooldown,
                        "user": c.user_cooldown,
                    }
                    for c in m.commands.all()
                    if c.enabled
                ],
                revolutions=[
                    {
                        "id": r.pk,
                        "command": r.command.casefold(),
                        "threshold": r.threshold,
                        "window": r.window_seconds,
                        "cooldown": r.cooldown_seconds,
                        "message": r.message,
                        "video_url": r.alert_video_url(),
                        "obs_connection_id": r.obs_connection_id,
                        "obs_actions": list(r.obs_actions or []),
                    }
                    for r in m.revolutions.all()
                    if r.enabled
                ],
                timers=[
                    {
                        "id": t.pk,
                        "text": t.text,
                        "interval": t.interval_seconds,
                        "min_lines": t.min_lines,
                    }
                    for t in m.timers.all()
                    if t.enabled
                ],
            )
        )
    return out


def _variables(meeting_id: int) -> dict:
    """Template variables of a meeting, read fresh."""
    from ingest.models import LiveSession
    from polls.models import Meeting

    m = Meeting.objects.select_related("current_question").get(pk=meeting_id)
    top = m.participants.order_by("-score", "score_reached_at").first()
    session = (
        LiveSession.objects.filter(source__meetings=m, ended_at__isnull=True)
        .order_by("started_at")
        .first()
    )
    if session:
        seconds = int((timezone.now() - session.started_at).total_seconds())
        uptime = f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    else:
        uptime = "offline"
    return {
        "join_url": f"{settings.CHORUS_PUBLIC_URL.rstrip('/')}/join/?code={m.join_code}",
        "join_code": m.join_code,
        "meeting": m.title,
        "question": getattr(m.current_question, "text", "") or "",
        "top_scorer": f"{top.nickname} ({top.score})" if top and top.score > 0 else "nobody yet",
        "uptime": uptime,
    }


def _score_reply(meeting_id: int, platform: str, user_id: str, name: str) -> str:
    from polls.models import Participant

    p = Participant.objects.filter(
        meeting_id=meeting_id, platform=platform, platform_user_id=user_id
    ).first()
    if p is None:
        return f"@{name} you have no points yet: answer a question to join in."
    rank = Participant.objects.filter(meeting_id=meeting_id, score__gt=p.score).count() + 1
    return f"@{name} you have {p.score} points (rank {rank})."


def _top_reply(meeting_id: int) -> str:
    from polls.models import Participant

    top = list(
        Participant.objects.filter(meeting_id=meeting_id, score__gt=0).order_by(
            "-score", "score_reached_at"
        )[:5]
    )
    if not top:
        return "No scores yet."
    return "Top: " + ", ".join(f"{i}. {p.nickname} ({p.score})" for i, p in enumerate(top, start=1))


class BotEngine:
    def __init__(self, *, clock=time.monotonic, sender=send_chat):
        self.clock = clock
        self.sender = sender
        self.configs: list[MeetingConfig] = []
        self.states: dict[int, MeetingState] = {}
        self.loaded_at = float("-inf")

    async def reload(self, force: bool = False) -> None:
        if not force and self.clock() - self.loaded_at < RELOAD_SECONDS:
            return
        self.configs = await sync_to_async(_load_configs)()
        self.loaded_at = self.clock()
        for cfg in self.configs:
            st = self.states.setdefault(cfg.id, MeetingState())
            for c in cfg.commands:
                gate = st.gates.get(c["id"])
                if gate is None:
                    st.gates[c["id"]] = CommandGate(
                        c["global"], c["user"], c["audience"], clock=self.clock
                    )
                else:
                    gate.global_cooldown, gate.user_cooldown, gate.audience = (
                        c["global"],
                        c["user"],
                        c["audience"],
                    )
            for r in cfg.revolutions:
                counter = st.revolutions.get(r["id"])
                if counter is None or (counter.threshold, counter.window, counter.cooldown) != (
                    r["threshold"],
                    r["window"],
                    r["cooldown"],
                ):
                    st.revolutions[r["id"]] = RevolutionCounter(
                        r["threshold"], r["window"], r["cooldown"], clock=self.clock
                    )
            keys = tuple((t["id"], t["interval"], t["min_lines"]) for t in cfg.timers)
            if st.rotation is None or keys != st.timer_keys:
                lines = st.rotation.lines_since_post if st.rotation else 0
                st.rotation = TimerRotation(
                    [Timer(str(t["id"]), t["interval"], t["min_lines"]) for t in cfg.timers],
                    clock=self.clock,
                )
                st.rotation.lines_since_post = lines
                st.timer_keys = keys

    # --- chat -----------------------------------------------------------------------------
    async def on_batch(self, stored) -> None:
        if not stored.message_objects:
            return
        await self.reload()
        if not self.configs:
            return
        marker = settings.BOT_MESSAGE_MARKER
        counts: dict[tuple[int, int], int] = {}
        for msg in stored.message_objects:
            if msg.kind != "message" or is_bot_message(msg.text, marker) or msg.author is None:
                continue
            for cfg in self.configs:
                if msg.source_id not in cfg.source_ids:
                    continue
                st = self.states[cfg.id]
                if st.rotation:
                    st.rotation.on_chat_line()
                cmd = parse_command(msg.text, cfg.prefix)
                if cmd is not None:
                    await self._command(cfg, st, msg, cmd, counts)
        for (meeting_id, rev_id), (count, threshold) in counts.items():
            await publish(
                panel_group(meeting_id),
                {
                    "type": "revolution.count",
                    "revolution_id": rev_id,
                    "count": count,
                    "threshold": threshold,
                },
            )

    async def _command(self, cfg, st, msg, cmd, counts) -> None:
        author = msg.author
        name = author.display_name or author.login
        for r in cfg.revolutions:
            if cmd.name == r["command"]:
                counter = st.revolutions[r["id"]]
                fired = counter.call(f"{msg.platform}:{author.platform_user_id}")
                counts[(cfg.id, r["id"])] = (0 if fired else counter.count(), r["threshold"])
                if fired:
                    await self._fire_revolution(cfg, r)
                return
        for c in cfg.commands:
            if cmd.name in c["names"]:
                gate = st.gates[c["id"]]
                user_key = f"{msg.platform}:{author.platform_user_id}"
                if gate.check(user_key, author.roles) is not None:
                    return
                gate.used(user_key)
                variables = await sync_to_async(_variables)(cfg.id)
                variables.update(user=name, args=cmd.args)
                await self._post(msg.source_id, render_template(c["reply"], variables))
                return
        if cfg.builtins and cmd.name in BUILTINS:
            key = ("builtin", cmd.name)
            gate = st.gates.setdefault(key, CommandGate(2, 10, clock=self.clock))
            user_key = f"{msg.platform}:{author.platform_user_id}"
            if gate.check(user_key, author.roles) is not None:
                return
            gate.used(user_key)
            if cmd.name == "score":
                text = await sync_to_async(_score_reply)(
                    cfg.id, msg.platform, author.platform_user_id, name
                )
            elif cmd.name == "top":
                text = await sync_to_async(_top_reply)(cfg.id)
            else:
                variables = await sync_to_async(_variables)(cfg.id)
                text = f"Join {cfg.title} at {variables['join_url']} (code {cfg.join_code})"
            await self._post(msg.source_id, text)

    async def _fire_revolution(self, cfg, r) -> None:
        log.info("revolution %s fired in meeting %s", r["command"], cfg.id)
        frame = {
            "type": "alert",
            "kind": "revolution",
            "meeting_id": cfg.id,
            "revolution_id": r["id"],
            "message": r["message"],
            "video_url": r["video_url"],
        }
        await publish([panel_group(cfg.id), alerts_group(cfg.id)], frame)
        for sid in sorted(cfg.source_ids):
            await self._post(sid, r["message"], quiet=True)
        if r["obs_connection_id"] and r["obs_actions"]:
            from .obs import manager

            try:
                await manager().run_actions(
                    r["obs_connection_id"], r["obs_actions"], {"message": r["message"]}, None
                )
            except Exception as exc:
                log.warning("revolution OBS actions failed: %s", exc)

    async def _post(self, source_id: int, text: str, quiet: bool = False) -> None:
        from ingest.models import ChatSource

        platform = await sync_to_async(
            lambda: (
                ChatSource.objects.filter(pk=source_id).values_list("platform", flat=True).first()
            )
        )()
        if platform is None or (quiet and not can_send(platform)):
            return
        try:
            await self.sender(source_id, settings.BOT_MESSAGE_MARKER + text)
        except SendError as exc:
            log.warning("bot could not post to source %s: %s", source_id, exc)

    # --- timers ---------------------------------------------------------------------------
    async def tick(self) -> None:
        await self.reload()
        for cfg in self.configs:
            st = self.states.get(cfg.id)
            if st is None or st.rotation is None:
                continue
            timer = st.rotation.due()
            if timer is None:
                continue
            text = next((t["text"] for t in cfg.timers if str(t["id"]) == timer.key), "")
            st.rotation.posted()
            variables = await sync_to_async(_variables)(cfg.id)
            for sid in sorted(cfg.source_ids):
                await self._post(sid, render_template(text, variables), quiet=True)


_engine: BotEngine | None = None
_timer_task: asyncio.Task | None = None


def engine() -> BotEngine:
    global _engine
    if _engine is None:
        _engine = BotEngine()
    return _engine


async def on_batch(stored) -> None:
    """Pipeline listener. Also makes sure the timer loop runs in this process (under a lease)."""
    global _timer_task
    loop = asyncio.get_running_loop()
    if _timer_task is None or _timer_task.done() or _timer_task.get_loop() is not loop:
        _timer_task = asyncio.create_task(run_timers(), name="bot-timers")
    await engine().on_batch(stored)


async def run_timers(period: float = 1.0) -> None:
    """Post due timers. With several ingest workers, only the lease holder posts."""
    from ingest.locks import make_leases

    leases = make_leases()
    key = "task:bot-timers"
    try:
        while True:
            held = await leases.renew(key) if key in leases.held else await leases.acquire(key)
            if held:
                try:
                    await engine().tick()
                except Exception:
                    log.exception("bot timers failed")
            await asyncio.sleep(period)
    finally:
        with contextlib.suppress(Exception):
            await leases.close()
