from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ingest.models import ApiToken


class Command(BaseCommand):
    help = "Revoke an API token by its prefix (the 8 characters after chorus_)."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix, **opts):
        n = ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not n:
            raise CommandError(f"no active token with prefix {prefix!r}")
        self.stdout.write(f"revoked {prefix}")
