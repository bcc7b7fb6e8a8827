"""Seed 000's command, done right: fetch a YouTube live chat into Chorus.

    python manage.py fetch_live_chat --video-id=ID_OR_URL [--loop] [--max-iterations=N]

Without --loop: one liveChatMessages.list call. With --loop: keep polling (at YouTube's
pollingIntervalMillis, within the daily quota budget) until Ctrl-C or N polls. Progress shows
messages fetched and quota used. Resumes from the stored page token.
"""

import asyncio

from django.core.management.base import BaseCommand, CommandError

from ingest.youtube.runner import run_sources, source_for_video, summary


class Command(BaseCommand):
    help = "Fetch the live chat of one YouTube video (id or URL) into Chorus."

    def add_arguments(self, parser):
        parser.add_argument("--video-id", required=True, help="video id or URL, or 'mine'")
        parser.add_argument("--loop", action="store_true", help="keep polling")
        parser.add_argument(
            "--max-iterations", type=int, default=None, help="with --loop: stop after N polls"
        )

    def handle(self, *args, video_id, loop, max_iterations, **opts):
        if max_iterations is not None and max_iterations < 1:
            raise CommandError("--max-iterations must be at least 1")
        try:
            src = source_for_video(video_id)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        max_polls = max_iterations if loop else 1  # None = until Ctrl-C
        self.stdout.write(
            f"fetching live chat of {src.identifier} (source {src.pk}); "
            + ("Ctrl-C to stop" if max_polls is None else f"{max_polls} poll(s)")
        )
        try:
            result = asyncio.run(run_sources([src.pk], self._say, max_polls=max_polls))
        except KeyboardInterrupt:
            self.stdout.write("stopped")
            return
        self.stdout.write(summary(result))
        if result.errors:
            raise CommandError("; ".join(result.errors.values()))

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
