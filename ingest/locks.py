"""Who may ingest a source: exactly one worker at a time.

With REDIS_URL a lease is a Redis key (SET NX PX) renewed every third of its lifetime; a worker
that dies stops renewing and another takes the source over once the lease expires
(INGEST_LEASE_SECONDS). Without Redis there is one process, and the lease is local.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from django.conf import settings

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LocalLeases:
    """One process: every lease is granted."""

    def __init__(self):
        self.held: set[int] = set()

    async def acquire(self, source_id: int) -> bool:
        self.held.add(source_id)
        return True

    async def renew(self, source_id: int) -> bool:
        return source_id in self.held

    def still_valid(self, source_id: int) -> bool:
        return source_id in self.held

    async def release(self, source_id: int) -> None:
        self.held.discard(source_id)

    async def close(self) -> None:
        self.held.clear()


def lease_prefix() -> str:
    """Lease keys live under the channel prefix (CHANNEL_PREFIX), so two installations sharing
    one Redis database never take each other's sources."""
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{layer.get('prefix', 'chorus')}:lease:source:"


class RedisLeases:
    def __init__(self, url: str, ttl: float | None = None, prefix: str | None = None):
        import redis.asyncio as redis

        self.redis = redis.from_url(url)
        self.ttl_ms = int((ttl or settings.INGEST_LEASE_SECONDS) * 1000)
        self.prefix = prefix if prefix is not None else lease_prefix()
        self.token = f"{worker_name()}:{uuid.uuid4().hex[:8]}"
        self.held: set[int] = set()
        # Local fence: monotonic time until which the lease is certainly ours (measured from
        # BEFORE the Redis call that set it, so it ends no later than the key's TTL).
        self.valid_until: dict[int, float] = {}

    def _key(self, source_id: int) -> str:
        return f"{self.prefix}{source_id}"

    async def acquire(self, source_id: int) -> bool:
        key = self._key(source_id)
        started = time.monotonic()
        ok = await self.redis.set(key, self.token, nx=True, px=self.ttl_ms)
        if not ok:
            # Still ours (e.g. a renewal failed on a transient error and the adapter was
            # stopped): take it back now rather than idling until our own lease expires.
            ok = await self.redis.eval(_RENEW, 1, key, self.token, self.ttl_ms)
        if ok:
            self.held.add(source_id)
            self.valid_until[source_id] = started + self.ttl_ms / 1000
        return bool(ok)

    async def renew(self, source_id: int) -> bool:
        started = time.monotonic()
        ok = await self.redis.eval(_RENEW, 1, self._key(source_id), self.token, self.ttl_ms)
        if ok:
            self.valid_until[source_id] = started + self.ttl_ms / 1000
        else:
            self.held.discard(source_id)
            self.valid_until.pop(source_id, None)
        return bool(ok)

    def still_valid(self, source_id: int) -> bool:
        """False once the lease may have expired without a renewal (the process froze, or Redis
        was unreachable): another worker may own the source now, so emit nothing more."""
        return time.monotonic() < self.valid_until.get(source_id, 0.0)

    async def release(self, source_id: int) -> None:
        self.valid_until.pop(source_id, None)
        await self.redis.eval(_RELEASE, 1, self._key(source_id), self.token)
        self.held.discard(source_id)

    async def holder(self, source_id: int) -> str | None:
        value = await self.redis.get(self._key(source_id))
        return value.decode() if value else None

    async def close(self) -> None:
        for sid in list(self.held):
            await self.release(sid)
        await self.redis.aclose()


def make_leases():
    return RedisLeases(settings.REDIS_URL) if settings.REDIS_URL else LocalLeases()
