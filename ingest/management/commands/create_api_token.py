from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ingest.models import ApiToken


class Command(BaseCommand):
    help = "Issue an API token for USER. The key is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, username, name, **opts):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        token, key = ApiToken.issue(user, name=name)
        self.stderr.write(
            f"token {token.prefix} issued for {username}; use it as: Authorization: Bearer <key>"
        )
        self.stdout.write(key)
