"""Pages of the ingest app. Thin: data comes from selectors and the API."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from .models import ChatSource, MessageStatus, Platform
from .permissions import is_moderator


@login_required
def moderation_dashboard(request):
    if not is_moderator(request.user):
        raise PermissionDenied("The moderation dashboard is for staff and moderators.")
    return render(
        request,
        "ingest/dashboard.html",
        {
            "statuses": MessageStatus.choices,
            "platforms": Platform.choices,
            "sources": ChatSource.objects.all(),
        },
    )
