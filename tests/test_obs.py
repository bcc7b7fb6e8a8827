"""OBS features against a REAL headless OBS with obs-websocket 5 (see tests/obs_server.py)."""

import asyncio
import re
import time

import pytest
from asgiref.sync import sync_to_async

from bots import triggers
from bots.models import Clip, KeywordTrigger, ObsConnection
from bots.obs import ObsConnectionRunner, ObsSettings, manager
from ingest.pipeline import Pipeline
from tests.factories import author, msg, source
from tests.obs_server import start_obs

pytestmark = [pytest.mark.obs, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def obs_server(tmp_path_factory):
    obs = start_obs(tmp_path_factory.mktemp("obs-out"))
    yield obs
    obs.kill()


@pytest.fixture(autouse=True)
def _fresh_state(settings):
    settings.OBS_BACKOFF_INITIAL = 0.2
    settings.OBS_BACKOFF_MAX = 1.0
    settings.OBS_GLOBAL_DEBOUNCE = 0.0
    triggers.reset()
    yield
    triggers.reset()


async def _until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_chat_keyword_saves_a_renamed_replay_once_per_cooldown(obs_server):
    conn = await sync_to_async(ObsConnection.objects.create)(
        name="studio",
        host="127.0.0.1",
        port=obs_server.port,
        secrets={"password": obs_server.password},
    )
    src = await sync_to_async(source)()
    trig = await sync_to_async(KeywordTrigger.objects.create)(
        name="clip it",
        keywords="clip\nreplay that",
        connection=conn,
        actions=[{"type": "save_replay"}],
        cooldown_seconds=60,
    )
    await sync_to_async(trig.sources.add)(src)
    pipeline = Pipeline(listeners=[triggers.on_batch])
    before = set(obs_server.outdir.iterdir())
    try:
        await pipeline.process(
            [msg(src, 1, text="wow CLIP that!", who=author(uid="9", login="zoe", name="Zoë K."))]
        )
        await _until(lambda: sync_to_async(Clip.objects.exists)(), 30, "a clip row")
        clip = await sync_to_async(Clip.objects.get)()
        assert clip.keyword == "clip" and clip.author == "Zoë K." and clip.text == "wow CLIP that!"
        new_files = set(obs_server.outdir.iterdir()) - before
        assert len(new_files) == 1
        saved = new_files.pop()
        assert str(saved) == clip.path and clip.size_bytes == saved.stat().st_size > 0
        assert re.fullmatch(r"Zoë-K_clip_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.mkv", saved.name), (
            saved.name
        )

        # A flood of the same keyword inside the cooldown saves nothing more.
        await pipeline.process(
            [msg(src, i, text="clip", who=author(uid=str(i))) for i in range(2, 30)]
        )
        await asyncio.sleep(3)
        assert await sync_to_async(Clip.objects.count)() == 1
        assert len(set(obs_server.outdir.iterdir()) - before) == 1
    finally:
        await manager().stop()


async def test_wrong_password_shows_an_error_state(obs_server):
    states = []

    async def on_status(state, reason):
        states.append((state, reason))

    runner = ObsConnectionRunner(
        ObsSettings(0, "127.0.0.1", obs_server.port, "wrong password"), on_status=on_status
    )
    task = asyncio.create_task(runner.run())
    try:
        await _until(lambda: asyncio.sleep(0, result=runner.state == "error"), 10, "error state")
        assert "wrong OBS websocket password" in runner.reason
        assert not runner.connected
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_connection_recovers_when_obs_is_killed_and_restarted(tmp_path):
    obs = start_obs(tmp_path / "out")
    runner = ObsConnectionRunner(ObsSettings(0, "127.0.0.1", obs.port, obs.password))
    task = asyncio.create_task(runner.run(health_seconds=0.2))
    try:
        assert await runner.wait_connected(10)
        version = await runner.call(lambda req: req.get_version().obs_version)
        assert version.startswith("29")
        obs.kill()
        await _until(
            lambda: asyncio.sleep(0, result=runner.state == "error"), 10, "the loss to show"
        )
        obs = start_obs(tmp_path / "out", port=obs.port, password=obs.password)
        await _until(
            lambda: asyncio.sleep(0, result=runner.state == "connected"), 20, "reconnection"
        )
        assert await runner.call(lambda req: req.get_scene_list().current_program_scene_name)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        obs.kill()


async def test_scene_text_visibility_and_raw_actions(obs_server):
    from bots.obs import run_action

    runner = ObsConnectionRunner(ObsSettings(0, "127.0.0.1", obs_server.port, obs_server.password))
    task = asyncio.create_task(runner.run())
    try:
        assert await runner.wait_connected(10)

        def setup(req):
            req.send(
                "CreateInput",
                {
                    "sceneName": "Scene",
                    "inputName": "chat-text",
                    "inputKind": "text_ft2_source_v2",
                    "inputSettings": {"text": ""},
                    "sceneItemEnabled": True,
                },
            )

        await runner.call(setup)
        variables = {"author": "Zoë", "message": "<b>hi</b>", "keyword": "clip"}
        await runner.call(
            lambda req: run_action(req, {"type": "switch_scene", "scene": "Scene 2"}, variables)
        )
        await runner.call(
            lambda req: run_action(
                req,
                {"type": "set_text", "input": "chat-text", "text": "{author}: {message}"},
                variables,
            )
        )
        await runner.call(
            lambda req: run_action(
                req,
                {
                    "type": "set_item_visible",
                    "scene": "Scene",
                    "source": "chat-text",
                    "visible": False,
                },
                variables,
            )
        )
        raw = await runner.call(
            lambda req: run_action(
                req, {"type": "raw", "request": "GetCurrentProgramScene"}, variables
            )
        )

        def read(req):
            text = req.get_input_settings("chat-text").input_settings["text"]
            item = req.get_scene_item_id("Scene", "chat-text").scene_item_id
            enabled = req.get_scene_item_enabled("Scene", item).scene_item_enabled
            return text, enabled, req.get_current_program_scene().current_program_scene_name

        text, enabled, scene = await runner.call(read)
        assert (text, enabled, scene) == ("Zoë: <b>hi</b>", False, "Scene 2")
        assert raw["currentProgramSceneName"] == "Scene 2"
        with pytest.raises(Exception, match="unknown OBS action"):
            await runner.call(lambda req: run_action(req, {"type": "explode"}, variables))
    finally:
        await runner.call(lambda req: req.send("RemoveInput", {"inputName": "chat-text"}))
        await runner.call(lambda req: req.set_current_program_scene("Scene"))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
