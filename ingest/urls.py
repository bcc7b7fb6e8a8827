from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .slack import views as slack_views
from .twitch import views as twitch_views
from .youtube import views as youtube_views

app_name = "ingest"
urlpatterns = [
    path("dashboard/", views.moderation_dashboard, name="dashboard"),
    path("twitch/", twitch_views.accounts, name="twitch_accounts"),
    path("twitch/connect/", twitch_views.connect, name="twitch_connect"),
    path("twitch/callback/", twitch_views.callback, name="twitch_callback"),
    path("youtube/", youtube_views.accounts, name="youtube"),
    path("youtube/connect/", youtube_views.connect, name="youtube_connect"),
    path("youtube/callback/", youtube_views.callback, name="youtube_callback"),
    path("youtube/streams/", youtube_views.add_stream, name="youtube_add_stream"),
    path("slack/events", slack_views.events, name="slack_events"),
    # Moderators need not be staff, so they cannot use the admin's login form.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
