"""Websocket URL routing. Wiring only: the consumers live in consumers/."""

from django.urls import path

from consumers.moderation import ModerationConsumer

websocket_urlpatterns = [
    path("ws/moderation/", ModerationConsumer.as_asgi()),
]
