"""One LISTEN connection per core process, fanning NOTIFYs out to the waiting subscribers.

A subscriber (a Subscribe stream or a long-poll Lease) registers a Waiter for its
(space, topic) before it looks for jobs, so a NOTIFY that arrives between its
look and its wait is not lost. An idle waiter costs no queries: it sleeps on
its event, with a timer only for the next known run_at (a delay, a retry or a
lease expiring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

import psycopg
from psycopg import sql

from core.queue.jobs import CHANNEL

log = logging.getLogger("plinth.queue")

Key = tuple[str, str]  # (space id, topic)


class Waiter:
    def __init__(self, key: Key) -> None:
        self.key = key
        self.event = asyncio.Event()
        self.due: float | None = None  # epoch seconds of the next known run_at

    def notify(self, due_ms: int | None) -> None:
        due = None if due_ms is None else due_ms / 1000
        if due is None or due <= time.time():
            self.event.set()
        elif self.due is None or due < self.due:
            self.due = due
            self.event.set()  # re-arm the sleeper's timer

    def hint(self, due: float | None) -> None:
        """The next run_at the waiter learnt from the database."""
        if due is not None and (self.due is None or due < self.due):
            self.due = due

    async def wait(self, limit: float | None = None) -> None:
        """Until notified, the next due time, or `limit` seconds; then clear."""
        timeout = limit
        if self.due is not None:
            until_due = max(0.0, self.due - time.time())
            timeout = until_due if timeout is None else min(timeout, until_due)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        if self.due is not None and self.due <= time.time():
            self.due = None

    def clear(self) -> None:
        self.event.clear()


class Wakeups:
    def __init__(self) -> None:
        self._waiters: dict[Key, set[Waiter]] = defaultdict(set)

    @contextlib.contextmanager
    def waiter(self, space_id: str, topic: str):
        waiter = Waiter((space_id, topic))
        self._waiters[waiter.key].add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(waiter.key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[waiter.key]

    def deliver(self, payload: str) -> None:
        space_id, _, rest = payload.partition(" ")
        topic, _, due = rest.rpartition(" ")
        for waiter in self._waiters.get((space_id, topic), ()):
            waiter.notify(int(due) if due.lstrip("-").isdigit() else None)

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.event.set()

    async def listen(self, url: str) -> None:
        """Follow NOTIFYs until cancelled; reconnects on loss (waking everyone)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.wake_all()  # jobs may have arrived while disconnected
                    async for notice in conn.notifies():
                        self.deliver(notice.payload)
            except psycopg.OperationalError as exc:
                log.warning("queue listener lost its connection (%s); retrying", exc)
                self.wake_all()
                await asyncio.sleep(1)
