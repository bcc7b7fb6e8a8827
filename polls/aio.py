"""Running the meetings' sync database code from async code.

``db(fn)`` runs ``fn`` on the shared sync thread like channels' ``database_sync_to_async`` but
KEEPS the thread's database connection between calls: with ``CONN_MAX_AGE=0``,
``database_sync_to_async`` closes and reopens a connection around every call, which dominated the
cost of a vote storm (thousands of short calls). A connection error closes the connection, so the
next call reconnects (e.g. after a PostgreSQL restart).
"""

from __future__ import annotations

import functools

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connections


def _closing_on_error(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError):
            for conn in connections.all(initialized_only=True):
                if not conn.in_atomic_block:
                    conn.close()
            raise

    return run


def db(fn):
    return sync_to_async(_closing_on_error(fn), thread_sensitive=True)
