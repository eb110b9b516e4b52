"""Purging finished jobs: a done job is kept, with its result, for
PLINTH_QUEUE_KEEP_DONE_SECONDS after it finished (default 7 days; 0 keeps done jobs for
good). Core deletes older ones hourly as its maintenance task `queue.purge_done`
(core/queue/internal.py). Dead jobs stay until they are re-queued: they need a decision.
"""

from __future__ import annotations

import logging

from psycopg import AsyncConnection

log = logging.getLogger("plinth.queue")

EVERY_SECONDS = 3600.0

# Job ids are UUIDv7 text, so the id range of jobs created before the cutoff bounds the
# scan to the primary key's oldest entries (a done job was created before it finished):
# no index of its own, so acks pay for none. The prefix is the cutoff's 48-bit Unix
# milliseconds as the id's first 12 hex digits.
_PURGE = """
WITH cutoff AS (
  SELECT at, lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') AS ms
  FROM (SELECT now() - make_interval(secs => %(keep)s) AS at) AS t
)
DELETE FROM plinth.jobs WHERE ctid = ANY (ARRAY(
  SELECT j.ctid FROM cutoff, plinth.jobs j
  WHERE j.id < substr(cutoff.ms, 1, 8) || '-' || substr(cutoff.ms, 9)
    AND j.status = 'done' AND j.updated_at < cutoff.at
  LIMIT %(batch)s
))
"""


async def purge_done(conn: AsyncConnection, keep_seconds: float, batch: int = 10_000) -> int:
    """Delete done jobs that finished more than `keep_seconds` ago; returns how many.
    Small batches keep each statement short."""
    total = 0
    while True:
        cur = await conn.execute(_PURGE, {"keep": keep_seconds, "batch": batch})
        total += cur.rowcount
        if cur.rowcount < batch:
            if total:
                log.info("purged %d done jobs", total)
            return total
