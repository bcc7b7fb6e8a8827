"""Seed 000's command, done right: poll every enabled YouTube stream (or the given ones).

    python manage.py poll_live_streams [--video-id=ID ...] [--loop] [--interval=S] [--refresh-metadata]

--interval is the minimum time between polls of a stream; YouTube's pollingIntervalMillis and
the daily quota budget win when they are longer. --refresh-metadata re-reads title, viewers and
the live chat id every cycle (1 quota unit each). Without --loop: one cycle.
"""

import asyncio

from django.core.management.base import BaseCommand, CommandError

from ingest.models import ChatSource
from ingest.youtube.runner import run_sources, source_for_video, summary


class Command(BaseCommand):
    help = "Poll the live chat of all enabled YouTube streams (or --video-id ones)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--video-id", action="append", default=[], help="video id or URL (repeatable)"
        )
        parser.add_argument("--loop", action="store_true", help="keep polling")
        parser.add_argument(
            "--interval", type=float, default=None, help="minimum seconds between polls"
        )
        parser.add_argument(
            "--refresh-metadata",
            action="store_true",
            help="re-read title/viewers/live chat id every cycle",
        )

    def handle(self, *args, video_id, loop, interval, refresh_metadata, **opts):
        if interval is not None and interval < 0:
            raise CommandError("--interval must be >= 0")
        try:
            sources = [source_for_video(v) for v in video_id]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not video_id:
            sources = list(ChatSource.objects.filter(platform="youtube", enabled=True))
        if not sources:
            raise CommandError(
                "no enabled YouTube streams: add one at /youtube/ or pass --video-id"
            )
        self.stdout.write(
            f"polling {len(sources)} stream(s): {', '.join(s.identifier for s in sources)}"
            + ("; Ctrl-C to stop" if loop else "")
        )
        try:
            result = asyncio.run(
                run_sources(
                    [s.pk for s in sources],
                    self._say,
                    max_polls=None if loop else 1,
                    min_interval=interval,
                    metadata_refresh_seconds=0 if refresh_metadata else None,
                )
            )
        except KeyboardInterrupt:
            self.stdout.write("stopped")
            return
        self.stdout.write(summary(result))
        if result.errors and len(result.errors) == len(sources):
            raise CommandError("; ".join(result.errors.values()))

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
