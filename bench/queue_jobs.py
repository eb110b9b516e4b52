"""Queue throughput (not named queue.py: that would shadow the standard library's `queue`
for every script in bench/): enqueue-and-process end to end over gRPC with 1, 4 and 16 worker slots.

    .venv/bin/python bench/queue_jobs.py [--jobs 3000] [--producers 8] [--json]

For each slot count, producers enqueue --jobs jobs (one job per Enqueue call) while one
worker (plinth.worker on the Subscribe stream, --slots jobs in flight) acks each job
(one Ack call per job). The figure is jobs/s from the first enqueue to the last ack.
"gRPC batch" sends EnqueueBatch calls of 100 jobs and lets the worker batch its acks
(AckBatch: the acks that gather while one call is in flight go in the next).
As a baseline, the same statements run through psycopg directly (enqueue, lease one,
ack) from the same number of concurrent tasks: the ratio shows what gRPC, the
service and the client cost on top of the SQL. Producers, the worker and the load
generator share this machine's CPUs with core and Postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from plinth import AsyncClient
from plinth.worker import Job, Worker
from psycopg_pool import AsyncConnectionPool
from stack import running_stack

from core.queue import jobs as sql

SLOTS = (1, 4, 16)


async def grpc_case(
    stack, topic: str, count: int, producers: int, slots: int, *, coalesce: bool, batch: int = 0
) -> float:
    """batch 0: one job per enqueue() and per ack, as separate RPCs (coalesce False) or
    sharing calls when they meet in flight (coalesce True); else enqueue_batch() of
    `batch` jobs."""
    done = asyncio.Event()
    seen = 0

    async def handle(job: Job) -> None:
        nonlocal seen
        seen += 1
        if seen >= count:
            done.set()

    async with (
        AsyncClient(stack.core_addr, api_key=stack.admin_key, coalesce=coalesce) as producer,
        AsyncClient(stack.core_addr, api_key=stack.admin_key) as consumer,
    ):
        await producer.enqueue("warmup")  # channels up before the clock starts
        await consumer.queue_stats(topic)
        worker = Worker(topic, handle, concurrency=slots, batch_acks=coalesce)
        running = asyncio.create_task(worker.run(consumer))
        per_producer = count // producers
        start = time.perf_counter()

        async def produce() -> None:
            if batch:
                for first in range(0, per_producer, batch):
                    size = min(batch, per_producer - first)
                    await producer.enqueue_batch(topic, [{"n": first + i} for i in range(size)])
                return
            for i in range(per_producer):
                await producer.enqueue(topic, {"n": i})

        await asyncio.gather(*(produce() for _ in range(producers)))
        await done.wait()
        elapsed = time.perf_counter() - start
        worker.stop()
        await running
    return per_producer * producers / elapsed


async def sql_case(url: str, space: str, topic: str, count: int, tasks: int) -> float:
    kwargs = {"autocommit": True}
    async with AsyncConnectionPool(
        url, min_size=tasks, max_size=tasks, kwargs=kwargs, open=False
    ) as pool:
        await pool.open(wait=True)
        per_task = count // tasks
        start = time.perf_counter()

        async def one() -> None:
            for i in range(per_task):
                async with pool.connection() as conn:
                    await conn.execute(sql.ENQUEUE, [space, topic, json.dumps({"n": i}), 5, 0])
                    cur = await conn.execute(sql.LEASE, [30000, space, topic, 1])
                    rows = await cur.fetchall()
                    for row in rows:
                        await conn.execute(sql.ACK, [None, row[0], space, row[6]])

        await asyncio.gather(*(one() for _ in range(tasks)))
        return per_task * tasks / (time.perf_counter() - start)


async def space_of(url: str) -> str:
    async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT space_id FROM plinth.jobs WHERE topic = 'warmup'")
            return (await cur.fetchone())[0]


async def main(args: argparse.Namespace) -> None:
    results = []
    with running_stack(rest=False) as stack:
        for path, coalesce in (("unary", False), ("coalesced", True)):
            for slots in SLOTS:
                topic = f"{path}_{slots}"
                rate = await grpc_case(
                    stack, topic, args.jobs, args.producers, slots, coalesce=coalesce
                )
                results.append({"path": path, "slots": slots, "jobs_per_s": round(rate)})
        for slots in (16, 64):
            rate = await grpc_case(
                stack,
                f"batch_{slots}",
                args.jobs * 3,
                args.producers,
                slots,
                coalesce=True,
                batch=100,
            )
            results.append({"path": "batch", "slots": slots, "jobs_per_s": round(rate)})
        url = stack.database_url()
        space = await space_of(url)
        rate = await sql_case(url, space, "bench_sql", args.jobs, args.producers)
        results.append({"path": "SQL", "slots": args.producers, "jobs_per_s": round(rate)})
    if args.json:
        print(json.dumps(results))
        return
    baseline = results[-1]["jobs_per_s"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.jobs} jobs, {args.producers} producers, {os.cpu_count()} CPUs, load {load}")
    print(f"{'path':10} {'slots':>5} {'jobs/s':>8} {'vs SQL':>7}")
    for r in results:
        ratio = r["jobs_per_s"] / baseline
        print(f"{r['path']:10} {r['slots']:>5} {r['jobs_per_s']:>8} {ratio:>7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    asyncio.run(main(parser.parse_args()))
