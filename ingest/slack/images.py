"""Images shared in a Slack channel: download (bot token), resize, store, attach — in the background.

Never on the event loop and never in the event handler: jobs run in a small thread pool. Progress
shows in Slack as reactions on the message: ``hourglass_flowing_sand`` while working, then
``white_check_mark`` (done) or ``x`` (failed). The stored file goes through Django's storage API
(``default_storage``); its URL lands in the message's ``extra["images"]`` (dashboards get a
``chat.updated`` frame, the public feed shows it).
"""

from __future__ import annotations

import io
import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError
from slack_sdk.errors import SlackApiError

from .convert import message_id
from .followups import FOLLOWUPS, Followup

log = logging.getLogger(__name__)

WORKING, DONE, FAILED = "hourglass_flowing_sand", "white_check_mark", "x"
MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000
DOWNLOAD_TIMEOUT = 30

EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-images")


class ImageError(Exception):
    pass


def _react(client, name: str, channel: str, ts: str, remove: bool = False) -> None:
    try:
        if remove:
            client.reactions_remove(name=name, channel=channel, timestamp=ts)
        else:
            client.reactions_add(name=name, channel=channel, timestamp=ts)
    except SlackApiError as exc:  # already_reacted, no_reaction, missing scope: not fatal
        log.info("slack reactions %s %s failed: %s", "remove" if remove else "add", name, exc)


def _trusted(url: str) -> bool:
    """The bot token is only ever sent to Slack (or to SLACK_API_URL's host, e.g. a test fake)."""
    from urllib.parse import urlsplit

    from .config import api_url

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == (urlsplit(api_url()).hostname or "").lower():
        return True
    return parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com"))


def download(url: str, token: str) -> bytes:
    if not _trusted(url):
        raise ImageError(f"refusing to send the bot token to {url!r}")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT) as resp:  # noqa: S310
        data = resp.read(MAX_DOWNLOAD_BYTES + 1)
        ctype = resp.headers.get("Content-Type", "")
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ImageError("image larger than 25 MB")
    if ctype.startswith("text/html"):  # Slack answers a login page when the token is refused
        raise ImageError("Slack refused the download (check the bot's files:read scope)")
    return data


def resize(data: bytes, max_width: int) -> tuple[bytes, str, int, int]:
    """(bytes, extension, width, height); at most ``max_width`` wide, aspect ratio kept."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"not a readable image: {exc}") from None
    if img.width > max_width:
        height = max(1, round(img.height * max_width / img.width))
        img = img.resize((max_width, height), Image.LANCZOS)
    out = io.BytesIO()
    if img.mode in ("RGBA", "LA", "P"):
        img.save(out, "PNG", optimize=True)
        ext = "png"
    else:
        img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
        ext = "jpg"
    return out.getvalue(), ext, img.width, img.height


def process_images(client, token: str, channel: str, ts: str, files: list[dict], max_width: int):
    """The job: runs in EXECUTOR. Returns the image dicts attached to the message."""
    _react(client, WORKING, channel, ts)
    images, failed = [], False
    for f in files:
        entry = {"file_id": f["id"], "name": str(f.get("name") or "")[:255]}
        try:
            info = client.files_info(file=f["id"])["file"]
            url = info.get("url_private_download") or info.get("url_private") or ""
            data, ext, width, height = resize(download(url, token), max_width)
            safe_ts = ts.replace(".", "-")
            name = default_storage.save(
                f"slack/{channel}/{safe_ts}-{f['id']}.{ext}", ContentFile(data)
            )
            entry.update(status="ready", url=default_storage.url(name), width=width, height=height)
        except (ImageError, SlackApiError, OSError, KeyError, ValueError) as exc:
            log.warning("slack image %s in %s/%s failed: %s", f.get("id"), channel, ts, exc)
            entry.update(status="failed", error=str(exc)[:300])
            failed = True
        images.append(entry)
    FOLLOWUPS.add(Followup(message_id(channel, ts), extra={"images": images}))
    _react(client, WORKING, channel, ts, remove=True)
    _react(client, FAILED if failed else DONE, channel, ts)
    return images


_futures: set = set()


def schedule(client, token: str, channel: str, ts: str, files: list[dict], max_width: int):
    future = EXECUTOR.submit(process_images, client, token, channel, ts, files, max_width)
    _futures.add(future)
    future.add_done_callback(_futures.discard)
    return future


def wait_idle(timeout: float = 30.0) -> bool:
    from concurrent.futures import wait

    pending = list(_futures)
    if not pending:
        return True
    return not wait(pending, timeout)[1]
