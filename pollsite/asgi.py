"""ASGI entry point: HTTP to Django, websockets to Channels consumers. Wiring only."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pollsite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from ingest.runtime import IngestLifespan  # noqa: E402
from pollsite.routing import (  # noqa: E402
    overlay_websocket_urlpatterns,
    public_websocket_urlpatterns,
    websocket_urlpatterns,
)

application = IngestLifespan(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter(
                [
                    *overlay_websocket_urlpatterns,  # token-only, any or no Origin (OBS)
                    re_path(
                        r"",
                        AllowedHostsOriginValidator(
                            URLRouter(
                                [
                                    *public_websocket_urlpatterns,  # no session (participants)
                                    re_path(
                                        r"", AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
                                    ),
                                ]
                            )
                        ),
                    ),
                ]
            ),
        }
    )
)
