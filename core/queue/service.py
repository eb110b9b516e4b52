"""QueueService: enqueue, lease (long poll), Subscribe (a credit-limited stream), ack, nack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from plinth.v1 import queue_service_pb2 as pb
from plinth.v1 import queue_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core import metrics
from core.auth.principal import current
from core.errors import Code, CoreError, bad_request, conflict, not_found
from core.queue import jobs, limits
from core.queue.wakeups import Wakeups

# A stream out of credit re-reads its leases from the database this often, in case
# its acks went to another core process (only while it holds jobs, never when idle).
RECONCILE_SECONDS = 5.0
COALESCE_SECONDS = 0.002


class Stream:
    """The un-acked leases of one Subscribe stream."""

    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self.outstanding: dict[str, float] = {}  # lease id -> expiry (epoch seconds)
        self.released = asyncio.Event()

    def credit(self) -> int:
        now = time.time()
        for lease, expiry in list(self.outstanding.items()):
            if expiry <= now:
                del self.outstanding[lease]  # expired: no longer held, cannot be acked
        return self.max_in_flight - len(self.outstanding)

    def release(self, lease: str) -> None:
        if self.outstanding.pop(lease, None) is not None:
            self.released.set()


class Leases:
    """Lease id -> the stream that handed it out, in this process."""

    def __init__(self) -> None:
        self._streams: dict[str, Stream] = {}

    def add(self, stream: Stream, job: pb.Job) -> None:
        stream.outstanding[job.lease_id] = job.lease_expires_at.ToNanoseconds() / 1e9
        self._streams[job.lease_id] = stream

    def release(self, lease: str) -> None:
        stream = self._streams.pop(lease, None)
        if stream is not None:
            stream.release(lease)

    def extend(self, job: pb.Job) -> None:
        stream = self._streams.get(job.lease_id)
        if stream is not None and job.lease_id in stream.outstanding:
            stream.outstanding[job.lease_id] = job.lease_expires_at.ToNanoseconds() / 1e9

    def forget(self, stream: Stream) -> None:
        for lease in stream.outstanding:
            self._streams.pop(lease, None)


class Queue:
    """The queue's actions for one space, usable by the service and by core itself."""

    def __init__(
        self, pool: AsyncConnectionPool, wakeups: Wakeups, settle_pool: AsyncConnectionPool
    ) -> None:
        self.pool = pool
        self.wakeups = wakeups
        self.settle_pool = settle_pool  # synchronous_commit off: leases, acks, nacks

    async def _settle(self, query: str, params) -> tuple | None:
        async with self.settle_pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def _one(self, query: str, params) -> tuple | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def enqueue(
        self, space: str, topic: str, payload: str | None, delay_ms: int, max_attempts: int
    ) -> pb.Job:
        row = await self._one(jobs.ENQUEUE, [space, topic, payload, max_attempts, delay_ms])
        return jobs.to_job(row)

    async def lease(self, space: str, topic: str, count: int, visibility_ms: int) -> list[pb.Job]:
        async with self.settle_pool.connection() as conn:
            cur = await conn.execute(jobs.LEASE, [visibility_ms, space, topic, count])
            rows = await cur.fetchall()
        return [jobs.to_job(r) for r in rows if r[3] == "leased"]

    async def next_due(self, space: str, topic: str) -> float | None:
        row = await self._one(jobs.NEXT_DUE, [space, topic])
        return row[0].timestamp() if row is not None else None

    async def lease_waiting(
        self, space: str, topic: str, count: int, visibility_ms: int, wait_ms: int
    ) -> list[pb.Job]:
        deadline = time.monotonic() + wait_ms / 1000
        with self.wakeups.waiter(space, topic) as waiter:
            while True:
                waiter.clear()
                leased = await self.lease(space, topic, count, visibility_ms)
                remaining = deadline - time.monotonic()
                if leased or remaining <= 0:
                    return leased
                waiter.hint(await self.next_due(space, topic))
                await waiter.wait(remaining)

    async def ack(self, space: str, job_id: str, lease: str, result: str | None) -> pb.Job:
        return await self._under_lease(space, job_id, lease, jobs.ACK, {"result": result})

    async def nack(
        self, space: str, job_id: str, lease: str, error: str, retry_ms: int, no_retry: bool
    ) -> pb.Job:
        params = {"error": error, "retry_ms": retry_ms, "no_retry": no_retry}
        return await self._under_lease(space, job_id, lease, jobs.NACK, params)

    async def extend(self, space: str, job_id: str, lease: str, visibility_ms: int) -> pb.Job:
        params = {"visibility_ms": visibility_ms}
        return await self._under_lease(space, job_id, lease, jobs.EXTEND, params)

    async def _under_lease(
        self, space: str, job_id: str, lease: str, query: str, params: dict
    ) -> pb.Job:
        """Run a statement that needs the job's live lease; without one, 404 or 409."""
        lease_uuid = limits.lease_id(lease)
        row = None
        if lease_uuid is not None:
            params = {**params, "id": job_id, "space": space, "lease": lease_uuid}
            row = await self._settle(query, params)
        if row is None:
            raise await self._lease_refused(space, job_id)
        return jobs.to_job(row)

    async def _lease_refused(self, space: str, job_id: str) -> CoreError:
        row = await self._one(jobs.GET, [job_id, space])
        if row is None:
            return not_found(f"no job {job_id!r}")
        if row[3] == "leased":
            return conflict(f"job {job_id!r} is held under another lease, or this lease expired")
        return conflict(f"job {job_id!r} is {row[3]}; this lease is no longer valid")

    async def get(self, space: str, job_id: str) -> pb.Job:
        row = await self._one(jobs.GET, [job_id, space])
        if row is None:
            raise not_found(f"no job {job_id!r}")
        return jobs.to_job(row)


class QueueServicer(rpc.QueueServiceServicer):
    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._leases = Leases()

    async def Enqueue(self, request: pb.EnqueueRequest, context) -> pb.EnqueueResponse:
        job = await self._queue.enqueue(
            current().space_id,
            limits.topic(request.topic),
            limits.json_bytes("payload", request.payload),
            limits.ranged("delay_ms", request.delay_ms, 0, limits.MAX_DELAY_MS),
            limits.ranged(
                "max_attempts",
                request.max_attempts,
                1,
                limits.MAX_ATTEMPTS,
                limits.DEFAULT_MAX_ATTEMPTS,
            ),
        )
        return pb.EnqueueResponse(job=job)

    async def EnqueueBatch(
        self, request: pb.EnqueueBatchRequest, context
    ) -> pb.EnqueueBatchResponse:
        if len(request.jobs) > limits.MAX_BATCH:
            raise CoreError(Code.PAYLOAD_TOO_LARGE, f"at most {limits.MAX_BATCH} jobs per batch")
        topics, payloads, attempts, delays = [], [], [], []
        for index, job in enumerate(request.jobs):
            try:
                topics.append(limits.topic(job.topic))
                payloads.append(limits.json_bytes("payload", job.payload))
                delays.append(limits.ranged("delay_ms", job.delay_ms, 0, limits.MAX_DELAY_MS))
                attempts.append(
                    limits.ranged(
                        "max_attempts",
                        job.max_attempts,
                        1,
                        limits.MAX_ATTEMPTS,
                        limits.DEFAULT_MAX_ATTEMPTS,
                    )
                )
            except CoreError as exc:
                exc.message = f"jobs[{index}]: {exc.message}"
                raise
        if not topics:
            return pb.EnqueueBatchResponse()
        async with self._queue.pool.connection() as conn:
            cur = await conn.execute(
                jobs.ENQUEUE_BATCH, [topics, payloads, attempts, delays, current().space_id]
            )
            enqueued = [jobs.to_job(row) for row in await cur.fetchall()]
        return pb.EnqueueBatchResponse(ids=[job.id for job in enqueued], jobs=enqueued)

    async def GetJob(self, request: pb.GetJobRequest, context) -> pb.GetJobResponse:
        job = await self._queue.get(current().space_id, limits.job_id(request.id))
        return pb.GetJobResponse(job=job)

    async def Lease(self, request: pb.LeaseRequest, context) -> pb.LeaseResponse:
        leased = await self._queue.lease_waiting(
            current().space_id,
            limits.topic(request.topic),
            limits.ranged("max_jobs", request.max_jobs, 1, limits.MAX_LEASE_JOBS, 1),
            _visibility(request.visibility_ms),
            limits.ranged("wait_ms", request.wait_ms, 0, limits.MAX_WAIT_MS),
        )
        return pb.LeaseResponse(jobs=leased)

    async def Subscribe(
        self, request: pb.SubscribeRequest, context
    ) -> AsyncIterator[pb.SubscribeResponse]:
        space = current().space_id
        topic = limits.topic(request.topic)
        stream = Stream(
            limits.ranged(
                "max_in_flight",
                request.max_in_flight,
                1,
                limits.MAX_IN_FLIGHT,
                limits.DEFAULT_IN_FLIGHT,
            )
        )
        visibility = _visibility(request.visibility_ms)
        queue = self._queue
        with queue.wakeups.waiter(space, topic) as waiter:
            try:
                while True:
                    credit = stream.credit()
                    if credit <= 0:
                        await self._await_credit(stream)
                        continue
                    if stream.outstanding and credit < stream.max_in_flight // 2:
                        # Busy: let a few more acks arrive, to lease them in one statement.
                        await asyncio.sleep(COALESCE_SECONDS)
                        credit = stream.credit()
                    waiter.clear()
                    leased = await queue.lease(space, topic, credit, visibility)
                    if leased:
                        for job in leased:
                            self._leases.add(stream, job)
                        yield pb.SubscribeResponse(jobs=leased)
                        continue
                    waiter.hint(await queue.next_due(space, topic))
                    await waiter.wait()
            finally:
                self._leases.forget(stream)

    async def _await_credit(self, stream: Stream) -> None:
        stream.released.clear()
        if stream.credit() > 0:
            return
        now = time.time()
        timeout = min([RECONCILE_SECONDS, *(e - now for e in stream.outstanding.values())])
        try:
            await asyncio.wait_for(stream.released.wait(), max(timeout, 0.0))
            return
        except TimeoutError:
            pass
        if not stream.outstanding:
            return
        async with self._queue.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT lease_id::text FROM plinth.jobs WHERE lease_id = ANY(%s::uuid[])"
                " AND status = 'leased' AND run_at > now()",
                [list(stream.outstanding)],
            )
            held = {r[0] for r in await cur.fetchall()}
        for lease in [lease for lease in stream.outstanding if lease not in held]:
            self._leases.release(lease)

    async def Ack(self, request: pb.AckRequest, context) -> pb.AckResponse:
        job = await self._queue.ack(
            current().space_id,
            limits.job_id(request.id),
            request.lease_id,
            limits.json_bytes("result", request.result),
        )
        self._leases.release(request.lease_id)
        metrics.JOB_OUTCOMES.labels(job.topic, "done").inc()
        return pb.AckResponse(job=job)

    async def AckBatch(self, request: pb.AckBatchRequest, context) -> pb.AckBatchResponse:
        if len(request.acks) > limits.MAX_BATCH:
            raise CoreError(Code.PAYLOAD_TOO_LARGE, f"at most {limits.MAX_BATCH} acks per batch")
        ids, leases, results, refused = [], [], [], []
        for ack in request.acks:
            lease = limits.lease_id(ack.lease_id)
            if lease is None:
                refused.append(ack.id)
                continue
            try:
                ids.append(limits.job_id(ack.id))
            except CoreError:
                refused.append(ack.id)
                continue
            leases.append(lease)
            results.append(limits.json_bytes("result", ack.result))
        if ids:
            async with self._queue.settle_pool.connection() as conn:
                cur = await conn.execute(jobs.ACK_BATCH, [ids, leases, results, current().space_id])
                rows = await cur.fetchall()
            acked = {job_id for job_id, _ in rows}
            refused += [i for i in ids if i not in acked]
            for _, topic in rows:
                metrics.JOB_OUTCOMES.labels(topic, "done").inc()
        for ack in request.acks:
            self._leases.release(ack.lease_id)
        return pb.AckBatchResponse(refused_ids=refused)

    async def Nack(self, request: pb.NackRequest, context) -> pb.NackResponse:
        job = await self._queue.nack(
            current().space_id,
            limits.job_id(request.id),
            request.lease_id,
            request.error[: limits.MAX_ERROR_CHARS].replace("\x00", ""),
            limits.ranged("retry_in_ms", request.retry_in_ms, 0, limits.MAX_DELAY_MS),
            request.no_retry,
        )
        self._leases.release(request.lease_id)
        metrics.JOB_OUTCOMES.labels(job.topic, _status_name(job.status)).inc()
        return pb.NackResponse(job=job)

    async def ExtendLease(self, request: pb.ExtendLeaseRequest, context) -> pb.ExtendLeaseResponse:
        job = await self._queue.extend(
            current().space_id,
            limits.job_id(request.id),
            request.lease_id,
            _visibility(request.visibility_ms),
        )
        self._leases.extend(job)
        return pb.ExtendLeaseResponse(job=job)

    async def Stats(self, request: pb.StatsRequest, context) -> pb.StatsResponse:
        topic = limits.topic(request.topic)
        async with self._queue.pool.connection() as conn:
            cur = await conn.execute(jobs.STATS, {"space": current().space_id, "topic": topic})
            counts = dict(await cur.fetchall())
        return pb.StatsResponse(**{status: counts.get(status, 0) for status in jobs.STATUS})

    async def ListDeadJobs(
        self, request: pb.ListDeadJobsRequest, context
    ) -> pb.ListDeadJobsResponse:
        topic = limits.topic(request.topic)
        size = limits.ranged(
            "page_size", request.page_size, 1, limits.MAX_PAGE, limits.DEFAULT_PAGE
        )
        after = ""
        if request.page_token:  # the last job id of the page before
            try:
                after = limits.job_id(request.page_token)
            except CoreError:
                raise bad_request("page_token is not one this list gave") from None
        async with self._queue.pool.connection() as conn:
            cur = await conn.execute(jobs.LIST_DEAD, [current().space_id, topic, after, size + 1])
            rows = await cur.fetchall()
        page = [jobs.to_job(r) for r in rows[:size]]
        token = page[-1].id if len(rows) > size else ""
        return pb.ListDeadJobsResponse(jobs=page, next_page_token=token)

    async def RequeueJob(self, request: pb.RequeueJobRequest, context) -> pb.RequeueJobResponse:
        space = current().space_id
        job_id = limits.job_id(request.id)
        row = await self._queue._one(jobs.REQUEUE, [job_id, space])
        if row is None:
            job = await self._queue.get(space, job_id)  # NOT_FOUND when absent
            raise conflict(f"job {job_id!r} is not dead (it is {_status_name(job.status)})")
        return pb.RequeueJobResponse(job=jobs.to_job(row))


def _visibility(value: int) -> int:
    return limits.ranged(
        "visibility_ms",
        value,
        limits.MIN_VISIBILITY_MS,
        limits.MAX_VISIBILITY_MS,
        limits.DEFAULT_VISIBILITY_MS,
    )


def _status_name(status: int) -> str:
    return pb.JobStatus.Name(status).removeprefix("JOB_STATUS_").lower()
