"""Serve a file with HTTP Range support (so a browser can seek in a video)."""

from __future__ import annotations

import mimetypes
import os
import re

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def _iter_file(path: str, start: int, length: int):
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            data = fh.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data


def ranged_file_response(
    request, path: str, *, download_name: str | None = None, content_type: str | None = None
):
    """``content_type``: when the caller knows it (e.g. sniffed from the content); else guessed
    from the file name."""
    size = os.path.getsize(path)
    if content_type is None:
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if path.endswith(".mkv"):
            content_type = "video/x-matroska"
    header = request.headers.get("Range", "")
    m = _RANGE.match(header.strip()) if header else None
    if header and not m:
        resp = HttpResponse(status=416)
        resp["Content-Range"] = f"bytes */{size}"
        return resp
    if m:
        first, last = m.groups()
        if first == "" and last == "":
            return HttpResponse(status=416)
        if first == "":  # suffix: the last N bytes
            start, end = max(size - int(last), 0), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            resp = HttpResponse(status=416)
            resp["Content-Range"] = f"bytes */{size}"
            return resp
        length = end - start + 1
        resp = StreamingHttpResponse(
            _iter_file(path, start, length), status=206, content_type=content_type
        )
        resp["Content-Length"] = str(length)
        resp["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        resp = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115 (closed by Django)
        resp["Content-Length"] = str(size)
    resp["Accept-Ranges"] = "bytes"
    if download_name:
        from django.utils.http import content_disposition_header

        resp["Content-Disposition"] = content_disposition_header(True, download_name)
    return resp
