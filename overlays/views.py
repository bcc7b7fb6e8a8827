"""Overlay pages (public, by token) and the host's pages: overlays dashboard, display manager."""

from __future__ import annotations

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from ingest.permissions import HOST_GROUP, MODERATOR_GROUP, has_role, is_moderator
from ingest.services import ServiceError, update_message
from polls.models import Meeting

from . import live, services
from .models import Overlay, OverlayKind

# The overlay page runs only our own script; chat images (emotes, avatars, badges) and alert
# videos may come from the platforms' CDNs.
OVERLAY_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data:; media-src *; "
    "font-src * data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'"
)


def staff_required(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not has_role(request.user, HOST_GROUP, MODERATOR_GROUP):
            raise PermissionDenied("Overlays are managed by staff, hosts and moderators.")
        return view(request, *args, **kwargs)

    return wrapped


def _overlay_or_404(token: str) -> Overlay:
    ov = services.find_overlay(token)
    if ov is None:
        raise Http404("No such overlay (the link is wrong, or it was revoked or regenerated).")
    return ov


# --- public: the browser source --------------------------------------------------------------
@require_GET
@never_cache
@xframe_options_sameorigin
def overlay_page(request, token):
    ov = _overlay_or_404(token)
    try:
        settings = services.effective_settings(ov, request.GET.dict())
    except ServiceError as exc:
        return HttpResponse(f"Bad overlay setting: {exc.message}\n", status=400,
                            content_type="text/plain; charset=utf-8")
    resp = render(
        request,
        "overlays/overlay.html",
        {
            "overlay": ov,
            "config": {
                "kind": ov.kind,
                "ws_path": f"/ws/overlay/{token}/",
                "settings": settings,
                "join_url": _join_url(request, ov) if ov.kind == OverlayKind.JOINCARD else "",
                # The page adds/refreshes/removes its custom.css <link> live (overlay.settings).
                "css_path": reverse("overlays:css", args=[token]),
            },
            "css_url": reverse("overlays:css", args=[token]) if ov.custom_css else "",
            "qr_url": reverse("polls:join_qr", args=[ov.meeting.join_code])
            if ov.kind == OverlayKind.JOINCARD
            else "",
            "theme": settings["theme"],
        },
    )
    resp["Content-Security-Policy"] = OVERLAY_CSP
    resp["Referrer-Policy"] = "no-referrer"  # the token is in our URL
    return resp


def _join_url(request, ov: Overlay) -> str:
    from polls.views import join_url

    return join_url(request, ov.meeting.join_code)


@require_GET
@never_cache
def overlay_css(request, token):
    """The streamer's custom CSS, as a stylesheet of its own: never inlined into the page."""
    ov = _overlay_or_404(token)
    resp = HttpResponse(ov.custom_css, content_type="text/css; charset=utf-8")
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


# --- host: overlays of a meeting ----------------------------------------------------------------
@staff_required
def dashboard(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    error = None
    if request.method == "POST":
        try:
            _dashboard_action(request, meeting)
        except ServiceError as exc:
            error = exc.message
    overlays = list(meeting.overlays.filter(revoked_at__isnull=True).order_by("kind", "id"))
    rows = [
        {
            "overlay": ov,
            "url": request.build_absolute_uri(reverse("overlays:page", args=[ov.token])),
            "settings": services.effective_settings(ov),
        }
        for ov in overlays
    ]
    return render(
        request,
        "overlays/dashboard.html",
        {
            "meeting": meeting,
            "rows": rows,
            "kinds": OverlayKind.choices,
            "error": error,
            "revoked": meeting.overlays.filter(revoked_at__isnull=False).count(),
            "themes": ["dark", "light", "none"],
            "aligns": ["left", "center", "right"],
            "anims": ["none", "fade", "slide", "pop"],
        },
        status=400 if error else 200,
    )


def _dashboard_action(request, meeting):
    action = request.POST.get("action")
    if action == "create":
        services.create_overlay(
            meeting=meeting, kind=request.POST.get("kind", ""), name=request.POST.get("name", ""),
            user=request.user,
        )
        return
    ov = meeting.overlays.filter(pk=request.POST.get("overlay") or 0, revoked_at__isnull=True).first()
    if ov is None:
        raise ServiceError("not_found", "no such overlay in this meeting")
    if action == "revoke":
        services.revoke(ov)
        live.overlay_changed(ov.pk, close=True)
    elif action == "regenerate":
        services.regenerate_token(ov)
        live.overlay_changed(ov.pk, close=True)
    elif action == "settings":
        data = {k: request.POST[k] for k in services.SETTING_NAMES if k in request.POST}
        for flag in ("badges", "avatars"):
            data[flag] = flag in request.POST
        new = services.save_settings(ov, data, request.POST.get("custom_css", ""))
        live.overlay_changed(
            ov.pk,
            frame={"type": "overlay.settings", "settings": new, "custom_css": bool(ov.custom_css)},
        )
    else:
        raise ServiceError("invalid", "unknown action")


# --- display manager (seed 000's "Manage live chat", per meeting) ---------------------------------
@staff_required
def display_manager(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    return render(
        request,
        "overlays/display.html",
        {
            "meeting": meeting,
            "initial": services.meeting_display(meeting.pk),
            # /ws/moderation/ is for moderators: a host's page polls the state instead.
            "live": "socket" if is_moderator(request.user) else "poll",
        },
    )


def _json_body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise ServiceError("invalid", "the body must be JSON") from None
    if not isinstance(data, dict):
        raise ServiceError("invalid", "the body must be a JSON object")
    return data


def _json_action(fn):
    @wraps(fn)
    def wrapped(request, meeting_id, *args, **kwargs):
        get_object_or_404(Meeting, pk=meeting_id)
        try:
            fn(request, meeting_id, *args, **kwargs)
        except ServiceError as exc:
            status = 404 if exc.code == "not_found" else 400
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=status)
        live.featured_changed(meeting_id)
        return JsonResponse(services.meeting_display(meeting_id))

    return staff_required(require_POST(wrapped))


@require_GET
@staff_required
def display_state(request, meeting_id):
    get_object_or_404(Meeting, pk=meeting_id)
    return JsonResponse(services.meeting_display(meeting_id))


@_json_action
def display_reorder(request, meeting_id):
    services.reorder_meeting(meeting_id, _json_body(request).get("order"), user=request.user)


@_json_action
def display_message(request, meeting_id, message_id):
    data = _json_body(request)
    services.meeting_message(meeting_id, message_id)
    changes = {}
    if "pinned" in data:
        if not isinstance(data["pinned"], bool):
            raise ServiceError("invalid", "pinned must be true or false")
        changes["pinned"] = data["pinned"]
    if data.get("remove") is True:
        changes["display_selected"] = False
        changes["pinned"] = False
    if not changes:
        raise ServiceError("invalid", 'give "pinned": true/false or "remove": true')
    update_message(user=request.user, message_id=message_id, changes=changes, via="display")


@_json_action
def display_settings(request, meeting_id):
    data = _json_body(request)
    services.save_display_settings(
        meeting_id,
        rotation_seconds=data.get("rotation_seconds"),
        display_limit=data.get("display_limit"),
        capture_delay_seconds=data.get("capture_delay_seconds"),
        user=request.user,
    )
