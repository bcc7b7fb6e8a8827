"""The server process tunes garbage collection and GIL switching at ASGI lifespan startup."""

import gc
import sys

import pytest

from ingest import runtime


@pytest.fixture
def restore():
    before = (gc.get_threshold(), sys.getswitchinterval())
    runtime._state.pop("tuned", None)
    yield
    runtime._state.pop("tuned", None)
    gc.unfreeze()
    gc.set_threshold(*before[0])
    sys.setswitchinterval(before[1])


async def lifespan_startup(app):
    sent = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    return sent


async def test_lifespan_startup_applies_the_configured_tuning(restore, settings):
    settings.GC_THRESHOLDS = "12345,40,90"
    settings.GIL_SWITCH_INTERVAL = 0.0007
    settings.INGEST_IN_PROCESS = False

    async def app(scope, receive, send):
        raise AssertionError("lifespan is not passed on")

    sent = await lifespan_startup(runtime.IngestLifespan(app))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert gc.get_threshold() == (12345, 40, 90)
    assert gc.get_freeze_count() > 0  # what was loaded at startup is out of the collector's way
    assert sys.getswitchinterval() == pytest.approx(0.0007)


async def test_empty_settings_keep_pythons_defaults(restore, settings):
    settings.GC_THRESHOLDS = ""
    settings.GIL_SWITCH_INTERVAL = 0
    settings.INGEST_IN_PROCESS = False
    gc.unfreeze()
    before = (gc.get_threshold(), sys.getswitchinterval())
    await lifespan_startup(runtime.IngestLifespan(None))
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
    assert gc.get_freeze_count() == 0
