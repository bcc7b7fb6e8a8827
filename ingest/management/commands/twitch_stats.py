"""Per-session statistics of a Twitch stream (seed 002's ``collector.py --stats``).

    python manage.py twitch_stats <session id> [--top 10]
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from ingest.events import MESSAGE_KINDS
from ingest.models import ChatMessage, LiveSession, ModerationEvent


def session_stats(session: LiveSession, top: int = 10) -> dict:
    msgs = ChatMessage.objects.filter(session=session)
    kinds = dict(msgs.values_list("kind").annotate(n=Count("id")).order_by())
    chatters = (
        msgs.exclude(author=None)
        .values("author__login", "author__display_name")
        .annotate(n=Count("id"))
        .order_by("-n", "author__login")
    )
    mods = ModerationEvent.objects.filter(session=session)
    mod_kinds = dict(mods.values_list("kind").annotate(n=Count("id")).order_by())
    bits = sum(int(a) for a in msgs.filter(currency="bits").values_list("amount", flat=True) if a)
    return {
        "session": session,
        "messages": msgs.count(),
        "by_kind": {k: kinds[k] for k in sorted(kinds) if k in {x.value for x in MESSAGE_KINDS}},
        "unique_chatters": msgs.exclude(author=None).values("author").distinct().count(),
        "top_chatters": [
            (c["author__login"], c["author__display_name"], c["n"]) for c in chatters[:top]
        ],
        "deletions": mod_kinds.get("deletion", 0),
        "bans": mod_kinds.get("ban", 0),
        "timeouts": mod_kinds.get("timeout", 0),
        "unbans": mod_kinds.get("unban", 0),
        "clears": mod_kinds.get("clear", 0),
        "deleted_messages": msgs.exclude(platform_state="visible").count(),
        "bits": bits,
    }


class Command(BaseCommand):
    help = "Print statistics of one live session: messages, unique chatters, top chatters, deletions, bans."

    def add_arguments(self, parser):
        parser.add_argument("session_id", type=int)
        parser.add_argument("--top", type=int, default=10)

    def handle(self, *args, session_id, top, **opts):
        session = LiveSession.objects.select_related("source").filter(pk=session_id).first()
        if session is None:
            raise CommandError(f"no live session {session_id} (see the admin or the API for ids)")
        s = session_stats(session, top)
        w = self.stdout.write
        end = session.ended_at.isoformat() if session.ended_at else "still live"
        w(f"Session {session.pk}: {session.source} — {session.title or '(no title)'}")
        w(f"  category: {session.category or '-'}   {session.started_at.isoformat()} -> {end}")
        if session.peak_viewer_count is not None:
            w(f"  viewers: {session.viewer_count} (peak {session.peak_viewer_count})")
        w(f"Messages:        {s['messages']}")
        for kind, n in s["by_kind"].items():
            w(f"  {kind:<14} {n}")
        w(f"Unique chatters: {s['unique_chatters']}")
        w(f"Bits:            {s['bits']}")
        w(f"Deletions:       {s['deletions']}")
        w(f"Bans:            {s['bans']}")
        w(f"Timeouts:        {s['timeouts']}")
        w(f"Unbans:          {s['unbans']}")
        w(f"Chat clears:     {s['clears']}")
        w(f"Messages removed by moderation: {s['deleted_messages']}")
        w(f"Top chatters (top {top}):")
        for i, (login, name, n) in enumerate(s["top_chatters"], start=1):
            label = f"{name} ({login})" if name and name != login else login
            w(f"  {i:>2}. {label:<40} {n}")
