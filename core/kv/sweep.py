"""The background sweep of expired key-value entries.

Reads never return an expired entry, so the sweep only reclaims space. Core
runs `core.kv.store.sweep_expired` as a periodic job of its internal queue
(core/queue/internal.py) every PLINTH_KV_SWEEP_SECONDS (default 60; 0 switches
it off). `sweep_once` runs it on a pool connection, e.g. from a script.
"""

from __future__ import annotations

import logging
import os

from psycopg_pool import AsyncConnectionPool

from core.kv.store import sweep_expired

log = logging.getLogger("plinth.kv")

DEFAULT_INTERVAL = 60.0


def interval_from_env() -> float:
    return float(os.environ.get("PLINTH_KV_SWEEP_SECONDS", str(DEFAULT_INTERVAL)))


async def sweep_once(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as conn:
        removed = await sweep_expired(conn)
    if removed:
        log.info("swept %d expired key-value entries", removed)
    return removed
