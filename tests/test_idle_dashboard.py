"""Scale-out: a dashboard with no chat for a while keeps receiving when chat resumes.

With redis-py 8 defaults (5 s socket timeout) and channels_redis' 5 s BZPOPMIN, a consumer whose
channel stayed empty for 5 s died with redis TimeoutError and its socket was dropped.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User

from ingest.pipeline import Pipeline
from tests.factories import msg, source
from tests.ws import connect, receive, receive_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]


@sync_to_async
def make_moderator():
    user = User.objects.create_user("idle-mod", password="x" * 20)
    user.groups.add(Group.objects.get_or_create(name="moderator")[0])
    return user


async def test_a_dashboard_idle_longer_than_the_redis_block_time_still_gets_chat():
    src = await sync_to_async(source)()
    dashboard, ok, _ = await connect("/ws/moderation/", await make_moderator())
    assert ok
    await receive(dashboard)  # hello
    await asyncio.sleep(6.5)  # > channels_redis' 5 s BZPOPMIN and redis-py's default timeout
    await Pipeline(listeners=[]).process([msg(src, 1, text="still there?")])
    frame = await receive_until(dashboard, "chat.messages", timeout=5)
    assert frame["messages"][0]["text"] == "still there?"
    await dashboard.disconnect()
