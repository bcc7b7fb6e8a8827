from django.core.management.base import BaseCommand

from consumers.schema import render


class Command(BaseCommand):
    help = "Print the websocket protocol as JSON Schema (docs/protocol.schema.json)."

    def handle(self, *args, **options):
        self.stdout.write(render(), ending="")
