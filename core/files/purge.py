"""Purging abandoned uploads: a file still unconfirmed a day after its upload URL was
given is deleted with whatever bytes were PUT for it, hourly, as core's maintenance task
`files.purge_unconfirmed` (core/queue/internal.py), as done jobs are (core/queue/purge.py).
"""

from __future__ import annotations

import logging

from psycopg import AsyncConnection

from core.files.storage import Storage

log = logging.getLogger("plinth.files")

EVERY_SECONDS = 3600.0
KEEP_SECONDS = 24 * 3600.0

# The metadata goes first (as in DeleteFile): a crash midway leaves orphan bytes, never
# metadata naming bytes that are gone. The partial index files_unconfirmed bounds the scan.
_PURGE = """
DELETE FROM plinth.files WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM plinth.files
  WHERE confirmed_at IS NULL AND created_at < now() - make_interval(secs => %(keep)s)
  LIMIT %(batch)s
))
RETURNING space_id, id
"""


async def purge_unconfirmed(
    conn: AsyncConnection, storage: Storage, keep_seconds: float = KEEP_SECONDS, batch: int = 1000
) -> int:
    """Delete uploads unconfirmed for more than `keep_seconds`; returns how many."""
    total = 0
    while True:
        rows = await (await conn.execute(_PURGE, {"keep": keep_seconds, "batch": batch})).fetchall()
        for space_id, file_id in rows:
            await storage.delete(space_id, file_id)
        total += len(rows)
        if len(rows) < batch:
            if total:
                log.info("purged %d unconfirmed uploads", total)
            return total
