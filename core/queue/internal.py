"""Core's own background work, run as jobs of the queue.

Each periodic task is one job row in the internal space `_plinth`, topic
`maintenance`, with a fixed id (so every core process that starts finds the
same row and none is doubled). Every core process leases from that topic;
whoever holds the lease runs the task and puts the job back as `queued` with
run_at = now + the task's interval. A core process that dies mid-task loses
its lease after LEASE_MS and another process runs the task. Between runs the
workers sleep until the job's run_at: nothing polls.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection

from core.queue.service import Queue

log = logging.getLogger("plinth.queue")

INTERNAL_SPACE = "_plinth"
TOPIC = "maintenance"
LEASE_MS = 5 * 60 * 1000
_IDS = uuid.UUID("6d1a3a5e-4c0b-4a3e-9a57-706c696e7468")  # namespace of the fixed ids

_ENSURE = """
INSERT INTO plinth.jobs (id, space_id, topic, payload, max_attempts)
VALUES (%s, %s, %s, %s::jsonb, 1000000)
ON CONFLICT (id) DO NOTHING
"""

_RESCHEDULE = """
UPDATE plinth.jobs SET status = 'queued', attempts = 0, lease_id = NULL, last_error = %s,
  result = %s::jsonb, run_at = now() + make_interval(secs => %s::float8), updated_at = now()
WHERE id = %s AND lease_id = %s
"""


@dataclass(frozen=True)
class Periodic:
    name: str  # e.g. "kv.sweep_expired"
    every_seconds: float
    run: Callable[[AsyncConnection], Awaitable[Any]]  # its return value is stored as the result

    @property
    def job_id(self) -> str:
        return str(uuid.uuid5(_IDS, self.name))


async def run_internal(queue: Queue, tasks: list[Periodic]) -> None:
    """Run core's periodic tasks until cancelled."""
    if not tasks:
        return
    by_id = {task.job_id: task for task in tasks}
    async with queue.pool.connection() as conn:
        for task in tasks:
            payload = orjson.dumps({"task": task.name}).decode()
            await conn.execute(_ENSURE, [task.job_id, INTERNAL_SPACE, TOPIC, payload])
    with queue.wakeups.waiter(INTERNAL_SPACE, TOPIC) as waiter:
        while True:
            try:
                waiter.clear()
                leased = await queue.lease(INTERNAL_SPACE, TOPIC, len(tasks), LEASE_MS)
                for job in leased:
                    task = by_id.get(job.id)
                    if task is not None:
                        await _run(queue, task, job.lease_id)
                if not leased:
                    waiter.hint(await queue.next_due(INTERNAL_SPACE, TOPIC))
                    await waiter.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("internal queue worker failed; retrying in 5 s")
                await asyncio.sleep(5)


async def _run(queue: Queue, task: Periodic, lease: str) -> None:
    error, result = None, None
    try:
        async with queue.pool.connection() as conn:
            result = orjson.dumps(await task.run(conn)).decode()
    except Exception as exc:
        log.exception("internal task %s failed", task.name)
        error = f"{type(exc).__name__}: {exc}"[:1000]
    async with queue.pool.connection() as conn:
        await conn.execute(_RESCHEDULE, [error, result, task.every_seconds, task.job_id, lease])
