"""`manage.py serve`: the development server (daphne's runserver) with in-process ingest
started as soon as the server listens, not on the first request."""

import asyncio

from daphne.management.commands.runserver import Command as RunserverCommand
from daphne.server import Server

from ingest.runtime import start_in_process_ingest, tune_process


class IngestingServer(Server):
    def __init__(self, *args, **kwargs):
        def ready():
            tune_process()
            asyncio.get_event_loop().call_soon(start_in_process_ingest)

        kwargs["ready_callable"] = ready
        super().__init__(*args, **kwargs)


class Command(RunserverCommand):
    help = "Development server (daphne) that starts the built-in chat ingest at once."
    server_cls = IngestingServer
