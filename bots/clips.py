"""Saved replays: rename to ``{author}_{keyword}_{time}.{ext}`` and record a Clip."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from pathlib import Path

from asgiref.sync import sync_to_async
from django.utils import timezone

from .keywords import clip_filename, unique_path

log = logging.getLogger(__name__)
RENAME_ATTEMPTS = 20
RENAME_WAIT = 0.25


def _rename_with_retry(src: Path, when: datetime, author: str, keyword: str) -> Path:
    """Rename, retrying while the file is still held open (Windows) or not yet visible."""
    last = None
    for _ in range(RENAME_ATTEMPTS):
        try:
            target = unique_path(
                src.parent, clip_filename(author, keyword, when, src.suffix or ".mkv")
            )
            os.rename(src, target)  # never overwrites: unique_path checked first
            return target
        except (PermissionError, FileNotFoundError) as exc:
            last = exc
            import time

            time.sleep(RENAME_WAIT)
    raise OSError(f"could not rename {src}: {last}")


async def record_clip(pending, obs_path: str):
    from .models import Clip, ObsConnection

    conn = await sync_to_async(ObsConnection.objects.filter(pk=pending.connection_id).first)()
    src = Path(obs_path)
    if conn is not None and conn.clips_dir:
        src = (
            Path(conn.clips_dir) / Path(obs_path.replace("\\", "/")).name
        )  # OBS on another OS/mount
    when = timezone.localtime()
    target = await asyncio.to_thread(_rename_with_retry, src, when, pending.author, pending.keyword)
    size = (await asyncio.to_thread(target.stat)).st_size
    clip = await sync_to_async(Clip.objects.create)(
        trigger_id=pending.trigger_id,
        connection_id=pending.connection_id,
        source_id=pending.source_id,
        message_id=pending.message_id,
        author=pending.author,
        keyword=pending.keyword,
        text=pending.text,
        path=str(target),
        size_bytes=size,
    )
    log.info("clip saved: %s", target)
    from ingest.publish import publish

    await publish(
        "bots",
        {
            "type": "clip.saved",
            "clip": {
                "id": clip.pk,
                "author": clip.author,
                "keyword": clip.keyword,
                "path": clip.path,
                "size_bytes": size,
            },
        },
    )
    return clip
