"""Queue and key-value throughput in one run: enqueue-and-process end to end over gRPC
with 1, 4 and 16 worker slots, then the key-value GET/SET section of bench/kv.py (REST
and gRPC against the same SQL through psycopg).

    .venv/bin/python -m bench.queue [--jobs 6000] [--producers 8] [--kv-duration 8] [--json]

For each slot count, producers enqueue --jobs jobs, one job per enqueue() call, while one
worker (plinth.worker on the Subscribe stream, --slots jobs in flight) acks each job.
"unary" sends each enqueue and each ack as its own RPC (Enqueue, Ack: what a client
generated from the protos does by default); "coalesced" is the Python client's default,
where the enqueues and acks that meet in flight share one EnqueueBatch / AckBatch call
(plinth.coalesce). "batch" sends enqueue_batch() calls of 100 jobs. The figure is jobs/s
from the first enqueue to the last ack. As a baseline, the same statements run through
psycopg directly (enqueue, lease one, ack) from the same number of concurrent tasks.
Producers, the worker and the load generator share this machine's CPUs with core and
Postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import orjson
import psycopg
from plinth import AsyncClient
from plinth.worker import Job, Worker
from psycopg_pool import AsyncConnectionPool

from bench import kv
from bench.cli import pooled_stack
from bench.load import as_json, progress
from core.queue import jobs as sql

SLOTS = (1, 4, 16)


async def grpc_case(
    stack, topic: str, count: int, producers: int, slots: int, *, coalesce: bool, batch: int = 0
) -> float:
    """batch 0: one job per enqueue() and per ack, as separate RPCs (coalesce False) or
    sharing calls when they meet in flight (coalesce True); else enqueue_batch() of
    `batch` jobs. The clock stops when the worker has acked the last job."""
    per_producer = count // producers
    count = per_producer * producers
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
        worker.stop()
        await running  # the running handlers finish, acks included
        elapsed = time.perf_counter() - start
    return count / elapsed


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
                        ack = {"result": None, "id": row[0], "space": space, "lease": row[6]}
                        await conn.execute(sql.ACK, ack)

        await asyncio.gather(*(one() for _ in range(tasks)))
        return per_task * tasks / (time.perf_counter() - start)


async def space_of(url: str) -> str:
    async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT space_id FROM plinth.jobs WHERE topic = 'warmup'")
            return (await cur.fetchone())[0]


async def vacuumed(stack) -> None:
    """Each case starts from a vacuumed jobs table, as autovacuum keeps it in service: run
    back to back, faster than autovacuum wakes (once a minute), every case would pay for
    the dead rows and index entries of the cases before it."""
    async with await psycopg.AsyncConnection.connect(stack.database_url(), autocommit=True) as c:
        await c.execute("VACUUM ANALYZE plinth.jobs")


async def queue_section(stack, args: argparse.Namespace) -> list[dict]:
    cases = [
        (path, slots, coalesce, 0, args.jobs)
        for path, coalesce in (("unary", False), ("coalesced", True))
        for slots in SLOTS
    ]
    cases += [("batch", slots, True, 100, args.jobs * 3) for slots in (16, 64)]
    results = []
    for path, slots, coalesce, batch, count in cases:
        progress(f"queue {path}, {slots} slots")
        await vacuumed(stack)
        rate = await grpc_case(
            stack, f"{path}_{slots}", count, args.producers, slots, coalesce=coalesce, batch=batch
        )
        results.append({"path": path, "slots": slots, "jobs_per_s": round(rate)})
    progress("queue SQL baseline")
    await vacuumed(stack)
    url = stack.database_url()
    rate = await sql_case(url, await space_of(url), "bench_sql", args.jobs, args.producers)
    results.append({"path": "SQL", "slots": args.producers, "jobs_per_s": round(rate)})
    return results


def render_queue(results: list[dict], args: argparse.Namespace) -> str:
    baseline = results[-1]["jobs_per_s"]
    lines = [
        f"{args.jobs} jobs, {args.producers} producers, one job per enqueue() and per ack"
        " (batch: 100 per call)",
        f"{'path':10} {'slots':>5} {'jobs/s':>8} {'vs SQL':>7}",
    ]
    for r in results:
        ratio = r["jobs_per_s"] / baseline
        lines.append(f"{r['path']:10} {r['slots']:>5} {r['jobs_per_s']:>8} {ratio:>7.2f}")
    best = max(r["jobs_per_s"] for r in results if r["path"] == "coalesced")
    lines.append(f"target: >= 1,000 jobs/s with one job per enqueue and per ack (got {best:,})")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    config = kv.parse_args(["--duration", str(args.kv_duration)])
    with pooled_stack(config.pool_size) as stack:
        queue_results = await queue_section(stack, args)
        kv_results = await kv.kv_section(stack, config)
    cpus = os.cpu_count() or 1
    if args.json:
        print(
            json.dumps(
                {"queue": queue_results, "kv": orjson.loads(as_json(kv_results, config, cpus))}
            )
        )
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{cpus} CPUs, load {load}\n")
    print(render_queue(queue_results, args))
    print()
    print(kv.render(kv_results, config, cpus))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=6000, help="jobs per queue case")
    parser.add_argument("--producers", type=int, default=8, help="concurrent enqueuers")
    parser.add_argument("--kv-duration", type=float, default=8.0, help="seconds per KV case")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    asyncio.run(main(parser.parse_args()))
