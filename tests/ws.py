"""Websocket test helpers: connect the real ASGI app as a logged-in user."""

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from consumers.protocol import validate_server_frame


@sync_to_async
def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def connect(path, user=None, origin="http://127.0.0.1:8000", app=None):
    if app is None:
        from pollsite.asgi import application as app
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000")]
    if user is not None:
        headers.append((b"cookie", (await session_cookie(user)).encode()))
    comm = WebsocketCommunicator(app, path, headers=headers)
    connected, code = await comm.connect()
    return comm, connected, code


async def receive(comm, timeout=3) -> dict:
    """Receive one frame and check it is a documented server frame."""
    frame = await comm.receive_json_from(timeout=timeout)
    validate_server_frame(frame)
    return frame


async def receive_until(comm, frame_type, timeout=3) -> dict:
    while True:
        frame = await receive(comm, timeout)
        if frame["type"] == frame_type:
            return frame
