"""Seed a demo: a chat source that needs no credentials, and an admin with a random password."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from ingest.models import ChatSource


class Command(BaseCommand):
    help = "Create the demo chat source and, if there is no superuser yet, an admin account."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=2.0, help="demo events per second")
        parser.add_argument("--admin-username", default="admin")

    def handle(self, *args, rate, admin_username, **opts):
        src, created = ChatSource.objects.get_or_create(
            platform="demo",
            identifier="demo",
            defaults={
                "name": "Demo chat",
                "settings": {"rate": rate},
                "public": True,
                "headline": "Demo live chat",
                "description": "Generated chat so you can see Chorus move without credentials.",
            },
        )
        self.stdout.write(f"demo chat source: {'created' if created else 'exists'} (id {src.pk})")
        for label, hook in self._extra_seeders():
            self.stdout.write(f"{label}: {hook()}")
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "admin account: exists (use `python manage.py changepassword` to reset it)"
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(admin_username, email="", password=password)
        line = "=" * 64
        self.stdout.write(
            self.style.WARNING(
                f"\n{line}\n  Admin account created. This password is shown ONCE:\n"
                f"    username: {admin_username}\n    password: {password}\n{line}\n"
            )
        )

    def _extra_seeders(self):
        """Apps may add demo content (meetings, bots) by defining ``<app>.demo.seed()``."""
        from importlib import import_module

        for app in ("polls", "bots"):
            try:
                mod = import_module(f"{app}.demo")
            except ModuleNotFoundError:
                continue
            yield app, mod.seed
