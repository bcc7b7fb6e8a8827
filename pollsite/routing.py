"""Websocket URL routing. Wiring only: the consumers live in consumers/."""

from django.urls import path

from consumers.meeting import HostConsumer, ParticipantConsumer
from consumers.moderation import ModerationConsumer

websocket_urlpatterns = [
    path("ws/moderation/", ModerationConsumer.as_asgi()),
    path("ws/meeting/<str:code>/", ParticipantConsumer.as_asgi()),
    path("ws/host/<int:meeting_id>/", HostConsumer.as_asgi()),
]
