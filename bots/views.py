"""Replay archive and OBS status pages (staff / moderators)."""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ingest.models import ChatSource
from ingest.permissions import is_moderator

from .models import Clip, ObsConnection
from .ranged import ranged_file_response


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
