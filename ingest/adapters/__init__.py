"""Platform adapters. Each module registers itself with ``base.register``."""

import importlib
import logging

log = logging.getLogger(__name__)

ADAPTER_MODULES = ["demo", "replay", "twitch", "youtube", "tiktok", "slack"]
_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name in ADAPTER_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    _loaded = True
