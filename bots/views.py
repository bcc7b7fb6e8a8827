"""Replay archive and OBS status pages (staff / moderators); revolution alert videos (public, by an
unguessable URL, for the alerts overlay in OBS)."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from ingest.models import ChatSource
from ingest.permissions import is_moderator

from .models import Clip, ObsConnection, Revolution, alert_video_key
from .ranged import ranged_file_response
from .validators import sniff_video


def _require_moderator(request):
    if not is_moderator(request.user):
        raise PermissionDenied("Clips are for staff and moderators.")


@login_required
def clip_list(request):
    _require_moderator(request)
    qs = Clip.objects.select_related("source").order_by("-created_at")
    source = request.GET.get("source", "")
    author = request.GET.get("author", "").strip()
    keyword = request.GET.get("keyword", "").strip()
    if source.isdigit():
        qs = qs.filter(source_id=int(source))
    if author:
        qs = qs.filter(author__icontains=author)
    if keyword:
        qs = qs.filter(keyword__icontains=keyword)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "bots/clips.html",
        {
            "page": page,
            "sources": ChatSource.objects.all(),
            "filters": {"source": source, "author": author, "keyword": keyword},
            "connections": ObsConnection.objects.all(),
        },
    )


def _clip_file(clip: Clip) -> str:
    path = Path(clip.path)
    if not path.is_file():
        raise Http404("The clip's file is gone (moved or deleted outside Chorus).")
    return str(path)


@login_required
def clip_media(request, pk: int):
    _require_moderator(request)
    clip = get_object_or_404(Clip, pk=pk)
    download = request.GET.get("download") == "1"
    return ranged_file_response(
        request, _clip_file(clip), download_name=Path(clip.path).name if download else None
    )


@login_required
@require_POST
def clip_delete(request, pk: int):
    _require_moderator(request)
    clip = get_object_or_404(Clip, pk=pk)
    path = Path(clip.path)
    if path.is_file():
        os.remove(path)
    clip.delete()
    messages.success(request, f"Deleted {path.name}")
    return redirect("bots:clips")


@login_required
def obs_status(request):
    _require_moderator(request)
    return render(request, "bots/obs.html", {"connections": ObsConnection.objects.order_by("name")})


# --- public: revolution alert videos (no login: OBS plays them; the key is the credential) -------
_VIDEO_TYPES = {"webm": "video/webm", "mp4": "video/mp4"}


@require_safe
def alert_video(request, pk: int, key: str):
    r = Revolution.objects.filter(pk=pk).first()
    if (
        r is None
        or not r.alert_video
        or not hmac.compare_digest(key.encode(), alert_video_key(r.pk, r.alert_video.name).encode())
    ):
        raise Http404("No such alert video.")
    try:
        path = r.alert_video.path
    except Exception:  # a storage without local paths, or a name outside MEDIA_ROOT
        raise Http404("No such alert video.") from None
    if not os.path.isfile(path):
        raise Http404("The alert video's file is gone.")
    with open(path, "rb") as fh:
        kind = sniff_video(fh.read(64))
    # Uploads are checked by content (validators.py); the name's extension is not trusted.
    resp = ranged_file_response(
        request, path, content_type=_VIDEO_TYPES.get(kind or "", "application/octet-stream")
    )
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, max-age=3600"
    resp["Referrer-Policy"] = "no-referrer"
    return resp
