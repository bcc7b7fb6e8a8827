"""Run one chat source in the foreground with a live status line."""

import asyncio
import contextlib
import sys
import time

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError

from ingest.adapters import load_all
from ingest.adapters.base import REGISTRY
from ingest.models import ChatSource
from ingest.pipeline import Pipeline
from ingest.supervisor import Supervisor


class Command(BaseCommand):
    help = "Ingest one source in the foreground: ingest <platform> <identifier>"

    def add_arguments(self, parser):
        parser.add_argument("platform")
        parser.add_argument("identifier")
        parser.add_argument(
            "--max-messages", type=int, default=None, help="stop after N stored messages"
        )
        parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
        parser.add_argument(
            "--setting",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="adapter setting for a new source (repeatable)",
        )

    def handle(self, *args, platform, identifier, max_messages, duration, setting, **opts):
        load_all()
        if platform not in REGISTRY:
            raise CommandError(
                f"unknown platform {platform!r}; available: {', '.join(sorted(REGISTRY))}"
            )
        extra = {}
        for item in setting:
            key, _, value = item.partition("=")
            extra[key] = value
        src, created = ChatSource.objects.get_or_create(
            platform=platform, identifier=identifier, defaults={"settings": extra, "enabled": False}
        )
        if not created and extra:
            src.settings.update(extra)
            src.save(update_fields=["settings"])
        self.stdout.write(
            f"source {src} (id {src.pk}){' created' if created else ''}; Ctrl-C to stop"
        )
        asyncio.run(self._main(src.pk, max_messages, duration))

    async def _main(self, source_id, max_messages, duration):
        pipeline = Pipeline()
        supervisor = Supervisor(pipeline, source_ids=[source_id], sync_seconds=3600)
        task = asyncio.create_task(supervisor.run())
        started = time.monotonic()
        last_stored, last_t = 0, started
        try:
            while not task.done():
                await asyncio.sleep(0.5)
                now = time.monotonic()
                s = pipeline.stats
                rate = (s.stored - last_stored) / (now - last_t)
                last_stored, last_t = s.stored, now
                reporter = supervisor.reporters.get(source_id)
                state = f"{reporter.state}: {reporter.detail}" if reporter else "starting"
                sys.stdout.write(
                    f"\r{rate:7.1f} msg/s | stored {s.stored} | moderation {s.moderation} | "
                    f"duplicates {s.duplicates} | errors {s.errors} | {state[:60]:<60}"
                )
                sys.stdout.flush()
                if max_messages is not None and s.stored >= max_messages:
                    break
                if duration is not None and now - started >= duration:
                    break
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            src = await sync_to_async(ChatSource.objects.get)(pk=source_id)
            sys.stdout.write(
                f"\nstopped: {pipeline.stats.stored} messages stored, {pipeline.stats.duplicates} duplicates "
                f"skipped, {pipeline.stats.errors} errors; resume cursor {src.cursor!r}\n"
            )
