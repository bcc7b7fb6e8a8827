"""URL wiring only: each app owns its views."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ingest.api import api

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("ingest.urls")),
    path("bots/", include("bots.urls")),
    path("", include("polls.urls")),
    path("", include("overlays.urls")),
]
