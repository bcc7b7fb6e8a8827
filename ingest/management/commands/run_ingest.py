"""The ingest worker (scale-out mode): run every enabled source this worker can lease."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from ingest.pipeline import Pipeline
from ingest.runtime import tune_process
from ingest.supervisor import Supervisor


class Command(BaseCommand):
    help = "Run all enabled chat sources (one worker per source, leased in Redis when REDIS_URL is set)."

    def handle(self, *args, **opts):
        asyncio.run(self._main())

    async def _main(self):
        tune_process()
        supervisor = Supervisor(Pipeline())
        self.stdout.write(f"ingest worker {supervisor.worker} started")
        task = asyncio.create_task(supervisor.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
        self.stdout.write("ingest worker stopped")
