"""Live sessions for IRC-only channels: poll Helix GET /streams (filled in step 5)."""


def maybe_start_poller(adapter):
    return None
