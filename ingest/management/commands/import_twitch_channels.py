"""Import Twitch channels from a seed-002-style channels.yaml.

    channels:
      - user_login: "shroud"
        display_name: "shroud"
        enabled: true
        notes: "FPS streamer"
    scheduler:
      interval_minutes: 1      # -> stream_poll_seconds of every imported channel

Creates or updates one ChatSource per channel (platform "twitch", identifier = login). Existing
sources keep their account, cursor and other settings. Invalid entries are reported, never
half-imported.
"""

import re

import yaml
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ingest.models import ChatSource

LOGIN = re.compile(r"^[a-z0-9_]{1,25}$")


def parse_channels(data) -> tuple[list[dict], float | None]:
    """Validate the YAML document; returns (channels, poll seconds) or raises CommandError."""
    if not isinstance(data, dict) or not isinstance(data.get("channels"), list):
        raise CommandError("channels.yaml must have a top-level 'channels:' list")
    errors, channels, seen = [], [], set()
    for i, entry in enumerate(data["channels"], start=1):
        if not isinstance(entry, dict):
            errors.append(f"entry {i}: expected a mapping with user_login")
            continue
        login = str(entry.get("user_login") or "").strip().lower().lstrip("#")
        if not LOGIN.match(login):
            errors.append(f"entry {i}: invalid user_login {entry.get('user_login')!r}")
            continue
        if login in seen:
            errors.append(f"entry {i}: {login} is listed twice")
            continue
        seen.add(login)
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            errors.append(f"entry {i}: enabled must be true or false")
            continue
        channels.append(
            {
                "login": login,
                "name": str(entry.get("display_name") or login)[:255],
                "enabled": enabled,
                "notes": str(entry.get("notes") or ""),
            }
        )
    poll = None
    sched = data.get("scheduler") or {}
    if not isinstance(sched, dict):
        errors.append("scheduler: expected a mapping")
    elif "interval_minutes" in sched:
        try:
            poll = float(sched["interval_minutes"]) * 60
            if poll <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"scheduler.interval_minutes: invalid {sched['interval_minutes']!r}")
    if errors:
        raise CommandError("channels.yaml has errors, nothing imported:\n  " + "\n  ".join(errors))
    return channels, poll


class Command(BaseCommand):
    help = "Create/update Twitch chat sources from a channels.yaml (seed 002 format)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--dry-run", action="store_true", help="validate and show, change nothing")

    def handle(self, *args, path, dry_run, **opts):
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise CommandError(f"{path} is not valid YAML: {exc}") from exc
        channels, poll = parse_channels(data)
        created = updated = 0
        with transaction.atomic():
            for ch in channels:
                src = ChatSource.objects.filter(platform="twitch", identifier=ch["login"]).first()
                if src is None:
                    src = ChatSource(platform="twitch", identifier=ch["login"])
                    created += 1
                else:
                    updated += 1
                src.name = ch["name"]
                src.enabled = ch["enabled"]
                if ch["notes"]:
                    src.description = ch["notes"]
                settings_ = dict(src.settings or {})
                if poll is not None:
                    settings_["stream_poll_seconds"] = poll
                src.settings = settings_
                self.stdout.write(
                    f"{'would import' if dry_run else 'imported'} #{ch['login']}"
                    f" ({'enabled' if ch['enabled'] else 'disabled'})"
                )
                if not dry_run:
                    src.save()
            if dry_run:
                transaction.set_rollback(True)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(channels)} channel(s): {created} new, {updated} updated"
                + (" (dry run: nothing saved)" if dry_run else "")
            )
        )
