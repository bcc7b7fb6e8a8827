from django.urls import path

from . import views

app_name = "overlays"
urlpatterns = [
    path("o/<str:token>/", views.overlay_page, name="page"),
    path("o/<str:token>/custom.css", views.overlay_css, name="css"),
    path("overlays/<int:meeting_id>/", views.dashboard, name="dashboard"),
    path("overlays/<int:meeting_id>/display/", views.display_manager, name="display"),
    path("overlays/<int:meeting_id>/display/state/", views.display_state, name="display_state"),
    path("overlays/<int:meeting_id>/display/reorder/", views.display_reorder, name="display_reorder"),
    path(
        "overlays/<int:meeting_id>/display/messages/<int:message_id>/",
        views.display_message,
        name="display_message",
    ),
    path(
        "overlays/<int:meeting_id>/display/settings/", views.display_settings, name="display_settings"
    ),
]
