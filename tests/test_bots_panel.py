"""The host dashboard's bots panel socket: state, toggles, live revolution counter and alert."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User

from bots.engine import BotEngine
from bots.models import BotConfig, ChatCommand, Revolution, TimerMessage
from consumers.bots_protocol import SERVER_FRAMES
from ingest.store import store_batch
from polls.models import Meeting
from tests.factories import author, msg, source
from tests.ws import connect

pytestmark = pytest.mark.django_db(transaction=True)


async def frame(comm, type_, timeout=3):
    while True:
        f = await comm.receive_json_from(timeout=timeout)
        if f["type"] in SERVER_FRAMES:
            SERVER_FRAMES[f["type"]].model_validate(f)
        if f["type"] == type_:
            return f


@sync_to_async
def setup():
    src = source()
    m = Meeting.objects.create(title="Show")
    m.sources.add(src)
    BotConfig.objects.create(meeting=m)
    t = TimerMessage.objects.create(meeting=m, text="hi", group="promo")
    c = ChatCommand.objects.create(meeting=m, name="discord", reply="x")
    r = Revolution.objects.create(
        meeting=m, command="revolution", threshold=2, window_seconds=60, message="Viva!"
    )
    host = User.objects.create_user("host")
    host.groups.add(Group.objects.get_or_create(name="host")[0])
    plain = User.objects.create_user("plain")
    return src, m, t, c, r, host, plain


async def test_hosts_only_and_the_hello_carries_the_bots_state():
    src, m, t, c, r, host, plain = await setup()
    _, ok, code = await connect(f"/ws/bots/{m.pk}/", plain)
    assert not ok and code == 4403
    _, ok, code = await connect(f"/ws/bots/{m.pk + 999}/", host)
    assert not ok and code == 4404
    comm, ok, _ = await connect(f"/ws/bots/{m.pk}/", host)
    hello = await frame(comm, "hello")
    assert hello["bots"]["timers"][0]["group"] == "promo"
    assert hello["bots"]["revolutions"][0]["threshold"] == 2
    await comm.disconnect()


async def test_toggles_apply_and_reach_every_panel():
    src, m, t, c, r, host, plain = await setup()
    a, _, _ = await connect(f"/ws/bots/{m.pk}/", host)
    b, _, _ = await connect(f"/ws/bots/{m.pk}/", host)
    await frame(a, "hello")
    await frame(b, "hello")
    await a.send_json_to(
        {
            "type": "bots.set_enabled",
            "ref": 1,
            "kind": "timer_group",
            "group": "promo",
            "enabled": False,
        }
    )
    ack = await frame(a, "ack")
    assert ack["bots"]["timers"][0]["enabled"] is False
    update = await frame(b, "bots.config")
    assert update["timers"][0]["enabled"] is False
    assert not (await sync_to_async(TimerMessage.objects.get)(pk=t.pk)).enabled
    await a.send_json_to(
        {"type": "bots.set_enabled", "ref": 2, "kind": "command", "enabled": False}
    )
    err = await frame(a, "error")
    assert err["code"] == "invalid"
    await a.send_json_to(
        {"type": "bots.set_enabled", "ref": 3, "kind": "command", "id": c.pk, "enabled": False}
    )
    await frame(a, "ack")
    assert not (await sync_to_async(ChatCommand.objects.get)(pk=c.pk)).enabled
    for comm in (a, b):
        await comm.disconnect()


async def test_revolution_counter_and_alert_reach_the_panel():
    src, m, t, c, r, host, plain = await setup()
    comm, _, _ = await connect(f"/ws/bots/{m.pk}/", host)
    await frame(comm, "hello")

    async def sender(source_id, text):
        pass

    engine = BotEngine(sender=sender)
    await engine.on_batch(
        await sync_to_async(store_batch)([msg(src, 1, "!revolution", who=author("a"))])
    )
    count = await frame(comm, "revolution.count")
    assert (count["count"], count["threshold"]) == (1, 2)
    await engine.on_batch(
        await sync_to_async(store_batch)([msg(src, 2, "!revolution", who=author("b"))])
    )
    alert = await frame(comm, "alert")
    assert alert["message"] == "Viva!" and alert["revolution_id"] == r.pk
    await comm.disconnect()
