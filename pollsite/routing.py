"""Websocket URL routing. Wiring only: the consumers live in consumers/."""

from django.urls import path

from consumers.bots import BotsConsumer
from consumers.meeting import HostConsumer, ParticipantConsumer
from consumers.moderation import ModerationConsumer
from consumers.overlay import OverlayConsumer

websocket_urlpatterns = [
    path("ws/moderation/", ModerationConsumer.as_asgi()),
    path("ws/host/<int:meeting_id>/", HostConsumer.as_asgi()),
    path("ws/bots/<int:meeting_id>/", BotsConsumer.as_asgi()),
]

# Participants (no account: a join code and a resume token): Origin-checked, but outside the
# session middleware, which would look up a session and wrap every frame they are sent.
public_websocket_urlpatterns = [
    path("ws/meeting/<str:code>/", ParticipantConsumer.as_asgi()),
]

# OBS browser sources: the token in the path is the credential; routed outside the Origin check
# and the session middleware (pollsite/asgi.py, docs/protocol.md "Channel overlay").
overlay_websocket_urlpatterns = [
    path("ws/overlay/<str:token>/", OverlayConsumer.as_asgi()),
]
