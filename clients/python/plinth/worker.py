"""Queue workers built on the Subscribe stream.

    from plinth import AsyncClient
    from plinth.worker import Job, run_workers, worker

    @worker("emails", concurrency=4)
    async def send_email(job: Job) -> dict:
        ...                       # return value: the job's result (JSON)

    async with AsyncClient("127.0.0.1:50051", api_key=KEY) as client:
        await run_workers(client, send_email)      # until SIGINT / SIGTERM

A handler that returns acks the job with its return value; one that raises
nacks it (retried with backoff, `Retry(retry_in_ms=…)` chooses the delay,
`Fail` makes it dead at once). Core never sends a worker more than
`concurrency` jobs at a time. While a handler runs, its job's lease is
extended each time half of `visibility_ms` has passed, so long work is not
handed to another worker (`keep_leases=False` turns that off). On shutdown the
worker stops taking jobs, lets the running ones finish for `grace` seconds, and
then cancels the rest and releases their leases (a nack with a retry in 1 ms),
so nothing waits for a visibility timeout. A worker that dies without that still loses nothing: its
leases expire after `visibility_ms` and the jobs are delivered again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from plinth.client import AsyncClient
from plinth.coalesce import Coalescer
from plinth.errors import PlinthError
from plinth.v1 import queue_service_pb2 as pb

log = logging.getLogger("plinth.worker")

STREAM_SECONDS = 3600.0  # a Subscribe call is renewed this often
RELEASE_RETRY_MS = 1
MAX_ACK_BATCH = 1000


@dataclass(frozen=True)
class Job:
    id: str
    topic: str
    payload: Any
    attempts: int
    max_attempts: int
    lease_id: str


class Retry(Exception):
    """Raise from a handler to retry the job after retry_in_ms (0: core's backoff)."""

    def __init__(self, message: str = "", retry_in_ms: int = 0) -> None:
        super().__init__(message)
        self.retry_in_ms = retry_in_ms


class Fail(Exception):
    """Raise from a handler to make the job dead at once (no retry)."""


Handler = Callable[[Job], Awaitable[Any]]


class _LeaseKeeper:
    """Extends one running job's lease each time half of it has passed, until cancelled.
    Nothing runs for a job that finishes sooner: one timer, cancelled."""

    def __init__(self, client: AsyncClient, job: Job, visibility_ms: int) -> None:
        self._client, self._job, self._visibility_ms = client, job, visibility_ms
        self._task: asyncio.Task | None = None
        self._timer = self._schedule()

    def _schedule(self) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(self._visibility_ms / 2000, self._fire)

    def _fire(self) -> None:
        self._task = asyncio.create_task(self._extend())

    async def _extend(self) -> None:
        try:
            await self._client.extend_lease(self._job.id, self._job.lease_id, self._visibility_ms)
        except PlinthError as exc:
            log.warning("could not extend the lease of job %s: %s", self._job.id, exc)
            if exc.code in ("CONFLICT", "NOT_FOUND"):
                return  # the lease is gone: the job will be (or was) delivered again
        self._timer = self._schedule()

    def cancel(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


def _acker(client: AsyncClient) -> Coalescer:
    """Acks through AckBatch: the acks that gather while one call is in flight go in the
    next, so a busy worker sends one call for many jobs and an idle one acks at once."""

    async def send(_: object, jobs: list[tuple[Job, Any]]) -> list[Any]:
        request = pb.AckBatchRequest(
            acks=[
                pb.AckRequest(
                    id=job.id,
                    lease_id=job.lease_id,
                    result=b"" if result is None else orjson.dumps(result),
                )
                for job, result in jobs
            ]
        )
        refused = set((await client.call(client.queue.AckBatch, request)).refused_ids)
        return [
            PlinthError("CONFLICT", f"job {job.id!r}: the lease is no longer valid")
            if job.id in refused
            else None
            for job, _ in jobs
        ]

    return Coalescer(send, max_items=MAX_ACK_BATCH)


class Worker:
    def __init__(
        self,
        topic: str,
        handler: Handler,
        *,
        concurrency: int = 1,
        visibility_ms: int = 30_000,
        grace: float = 10.0,
        batch_acks: bool = True,
        keep_leases: bool = True,
    ) -> None:
        self.topic = topic
        self.batch_acks = batch_acks
        self.keep_leases = keep_leases
        self.handler = handler
        self.concurrency = concurrency
        self.visibility_ms = visibility_ms
        self.grace = grace
        self._stopping = asyncio.Event()
        self._running: set[asyncio.Task] = set()

    async def __call__(self, job: Job) -> Any:
        return await self.handler(job)

    def stop(self) -> None:
        """Ask run() to finish: no new jobs; running ones get `grace` seconds."""
        self._stopping.set()

    async def run(self, client: AsyncClient) -> None:
        """Take and process jobs until stop() (or cancellation, which also shuts down)."""
        self._stopping = asyncio.Event()
        self._acker = _acker(client) if self.batch_acks else None
        reader = asyncio.create_task(self._read(client))
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([reader, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, stopping):
                task.cancel()
            outcome = await asyncio.gather(reader, stopping, return_exceptions=True)
            await self._drain()
        if isinstance(outcome[0], Exception):
            raise outcome[0]  # e.g. UNAUTHENTICATED or a bad topic

    async def _read(self, client: AsyncClient) -> None:
        request = pb.SubscribeRequest(
            topic=self.topic, max_in_flight=self.concurrency, visibility_ms=self.visibility_ms
        )
        delay = 0.1
        while True:
            try:
                async for answer in client.stream(
                    client.queue.Subscribe, request, timeout=STREAM_SECONDS
                ):
                    delay = 0.1
                    for message in answer.jobs:
                        task = asyncio.create_task(self._handle(client, _job(message)))
                        self._running.add(task)
                        task.add_done_callback(self._running.discard)
            except PlinthError as exc:
                if exc.code not in ("UNAVAILABLE", "INTERNAL"):
                    raise  # bad credentials or topic: retrying will not help
                log.warning("subscription to %s lost (%s); reconnecting", self.topic, exc)
                await asyncio.sleep(delay + random.random() * delay)
                delay = min(delay * 2, 5.0)

    async def _drain(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(set(self._running), timeout=self.grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _process(self, client: AsyncClient, job: Job) -> Any:
        keeper = _LeaseKeeper(client, job, self.visibility_ms) if self.keep_leases else None
        try:
            return await self.handler(job)
        finally:
            if keeper is not None:
                keeper.cancel()

    async def _handle(self, client: AsyncClient, job: Job) -> None:
        try:
            try:
                result = await self._process(client, job)
            except asyncio.CancelledError:
                await asyncio.shield(
                    client.nack(
                        job.id, job.lease_id, "released at shutdown", retry_in_ms=RELEASE_RETRY_MS
                    )
                )
                raise
            except Retry as exc:
                await client.nack(job.id, job.lease_id, str(exc), retry_in_ms=exc.retry_in_ms)
            except Fail as exc:
                await client.nack(job.id, job.lease_id, str(exc), retry=False)
            except Exception as exc:
                log.warning("job %s of %s failed: %r", job.id, self.topic, exc)
                await client.nack(job.id, job.lease_id, f"{type(exc).__name__}: {exc}")
            else:
                if self._acker is not None:
                    await self._acker.call((), (job, result))
                else:
                    await client.ack(job.id, job.lease_id, result)
        except PlinthError as exc:
            # CONFLICT: the lease expired first; the job will be (or was) delivered again.
            log.warning("could not settle job %s of %s: %s", job.id, self.topic, exc)


def _job(message: pb.Job) -> Job:
    return Job(
        id=message.id,
        topic=message.topic,
        payload=orjson.loads(message.payload) if message.payload else None,
        attempts=message.attempts,
        max_attempts=message.max_attempts,
        lease_id=message.lease_id,
    )


def worker(
    topic: str,
    *,
    concurrency: int = 1,
    visibility_ms: int = 30_000,
    grace: float = 10.0,
    batch_acks: bool = True,
    keep_leases: bool = True,
) -> Callable[[Handler], Worker]:
    """Decorate an async function of one Job into a Worker for `topic`."""

    def wrap(handler: Handler) -> Worker:
        return Worker(
            topic,
            handler,
            concurrency=concurrency,
            visibility_ms=visibility_ms,
            grace=grace,
            batch_acks=batch_acks,
            keep_leases=keep_leases,
        )

    return wrap


async def run_workers(client: AsyncClient, *workers: Worker, stop_signals: bool = True) -> None:
    """Run the workers until SIGINT or SIGTERM (with stop_signals), then shut down gracefully."""
    loop = asyncio.get_running_loop()
    if stop_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: [w.stop() for w in workers])
    try:
        await asyncio.gather(*(w.run(client) for w in workers))
    finally:
        if stop_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


__all__ = ["Fail", "Job", "Retry", "Worker", "run_workers", "worker"]
