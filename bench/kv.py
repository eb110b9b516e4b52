"""Key-value throughput: GET (and SET) through the REST gateway, through gRPC directly, and
the same SQL through psycopg directly, in one run. Prints req/s, latency, the ratios
REST/SQL and gRPC/SQL per operation, and CPU per request of each process.

    .venv/bin/python -m bench.kv [--concurrency 32] [--duration 8] [--keys 10000]
                                 [--cache-ttl 60] [--redis redis://127.0.0.1:6379/0] [--json]

GETs pick random keys among the seeded ones, so after the warm-up core answers most of
them from its read-through cache (in-memory by default, `--redis` for the shared one;
`--cache-ttl 0` switches it off). The SQL path runs one plain statement per key.
`kv_section()` is the part other benchmarks may call.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import grpc
import orjson
from plinth.v1 import kv_service_pb2 as pb
from plinth.v1 import kv_service_pb2_grpc as rpc

from bench.load import (
    CALL_TIMEOUT,
    NOTE,
    RestPool,
    Result,
    as_json,
    cpu_table,
    drive,
    progress,
    ratios,
    run_async,
    space_id,
    throughput_table,
)
from bench.stack import Stack, machine_busy_seconds, running_stack
from core.db.pool import open_pool
from core.kv import store

OPERATIONS = ("get", "set")
PATHS = ("SQL", "gRPC", "REST")
VALUE = {"name": "Ada", "plan": "pro", "visits": 12, "tags": ["a", "b"]}
# The statement a developer would write for one key (core's own takes a list of keys).
GET_ONE = (
    "SELECT value::text, (extract(epoch FROM expires_at) * 1000)::bigint FROM plinth.kv"
    " WHERE space_id = %(space)s AND key = %(key)s"
    " AND (expires_at IS NULL OR expires_at > now())"
)


@dataclass(frozen=True)
class Config:
    concurrency: int
    duration: float
    warmup: float
    max_requests: int
    keys: int
    pool_size: int
    cache_ttl: float
    redis: str | None
    operations: tuple[str, ...]
    seed: int
    json: bool


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=32, help="in-flight requests")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per case")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds per case")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per case")
    parser.add_argument("--keys", type=int, default=10_000, help="keys seeded for GETs")
    parser.add_argument("--pool-size", type=int, help="DB connections of core and of SQL")
    parser.add_argument("--cache-ttl", type=float, default=60.0, help="PLINTH_KV_CACHE_TTL")
    parser.add_argument("--redis", help="PLINTH_REDIS_URL for core (the shared cache)")
    parser.add_argument(
        "--operations", default="get,set", help="comma-separated, of: " + ", ".join(OPERATIONS)
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for the keys")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0 or args.keys < 1:
        parser.error("--concurrency, --duration and --keys must be positive")
    operations = tuple(op for op in args.operations.split(",") if op)
    if not operations or set(operations) - set(OPERATIONS):
        parser.error(f"--operations takes {', '.join(OPERATIONS)}")
    return Config(
        concurrency=args.concurrency,
        duration=args.duration,
        warmup=max(args.warmup, 0.0),
        max_requests=args.max_requests,
        keys=args.keys,
        pool_size=args.pool_size or args.concurrency,
        cache_ttl=args.cache_ttl,
        redis=args.redis,
        operations=operations,
        seed=args.seed,
        json=args.json,
    )


def key_name(n: int) -> str:
    return f"bench:user:{n}"


# --- the three paths -------------------------------------------------------------


class SqlTarget:
    """Core's pool settings and core's statements, a pooled connection per statement."""

    def __init__(self, pool, space: str) -> None:
        self._pool = pool
        self._space = space
        self._set = store.Statements(notify=False).set

    @classmethod
    async def open(cls, stack: Stack, size: int) -> SqlTarget:
        pool = await open_pool(stack.database_url(), size, size)
        async with pool.connection() as conn:
            space = await space_id(conn, stack.admin_key)
        return cls(pool, space)

    async def get(self, key: str) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(GET_ONE, {"space": self._space, "key": key})
            if await cur.fetchone() is None:
                raise RuntimeError(f"SQL found no key {key!r}")

    async def set(self, key: str, value: bytes) -> None:
        params = {"space": self._space, "key": key, "value": value.decode(), "ttl": None}
        async with self._pool.connection() as conn:
            await (await conn.execute(self._set, params)).fetchone()

    async def close(self) -> None:
        await self._pool.close()


class GrpcTarget:
    def __init__(self, stack: Stack) -> None:
        self._channel = grpc.aio.insecure_channel(stack.core_addr)
        self._stub = rpc.KeyValueServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {stack.admin_key}"),)

    async def get(self, key: str) -> None:
        await self._stub.GetKey(
            pb.GetKeyRequest(key=key), metadata=self._metadata, timeout=CALL_TIMEOUT
        )

    async def set(self, key: str, value: bytes) -> None:
        await self._stub.SetKey(
            pb.SetKeyRequest(key=key, value=value), metadata=self._metadata, timeout=CALL_TIMEOUT
        )

    async def close(self) -> None:
        await self._channel.close()


class RestTarget:
    """The raw keep-alive client of bench/load.py, one connection per request in flight."""

    def __init__(self, pool: RestPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, stack: Stack, size: int) -> RestTarget:
        return cls(await RestPool.open(stack.rest_url, stack.admin_key, size))

    async def get(self, key: str) -> None:
        await self._pool.get("/api/v1/kv/" + quote(key, safe="/:"))

    async def set(self, key: str, value: bytes) -> None:
        await self._pool.request("PUT", "/api/v1/kv/" + quote(key, safe="/:"), value)

    async def close(self) -> None:
        await self._pool.close()


async def open_target(path: str, stack: Stack, config: Config):
    if path == "SQL":
        return await SqlTarget.open(stack, config.pool_size)
    if path == "gRPC":
        return GrpcTarget(stack)
    return await RestTarget.open(stack, config.concurrency)


# --- load --------------------------------------------------------------------------


def caller(operation: str, target, rng: random.Random, keys: int) -> Callable[[], Awaitable]:
    if operation == "get":
        return lambda: target.get(key_name(rng.randrange(keys)))
    value = orjson.dumps(VALUE)
    # Writes go to keys of their own, so GETs of the seeded keys stay cacheable.
    return lambda: target.set(f"bench:write:{rng.randrange(keys)}", value)


async def measure(operation: str, path: str, stack: Stack, config: Config) -> Result:
    target = await open_target(path, stack, config)
    rng = random.Random(config.seed)
    try:
        call = caller(operation, target, rng, config.keys)
        await drive(call, config.concurrency, config.warmup, config.max_requests)
        before, machine = stack.cpu_seconds(), machine_busy_seconds()
        latencies, seconds = await drive(
            call, config.concurrency, config.duration, config.max_requests
        )
        after, machine = stack.cpu_seconds(), machine_busy_seconds() - machine
    finally:
        await target.close()
    cpu = {name: after[name] - before.get(name, 0.0) for name in after}
    others = max(machine - sum(cpu.values()), 0.0)
    return Result(operation, path, len(latencies), seconds, latencies, cpu, others)


async def seed(stack: Stack, count: int, concurrency: int) -> None:
    target = GrpcTarget(stack)
    value = orjson.dumps(VALUE)
    try:
        for start in range(0, count, concurrency * 8):
            batch = range(start, min(start + concurrency * 8, count))
            await asyncio.gather(*(target.set(key_name(n), value) for n in batch))
    finally:
        await target.close()


async def kv_section(
    stack: Stack, config: Config, operations: tuple[str, ...] = OPERATIONS
) -> list[Result]:
    """Seed the keys and measure every operation on every path (callable from other benches)."""
    progress(f"seeding {config.keys:,} keys through gRPC")
    await seed(stack, config.keys, config.concurrency)
    results = []
    for operation, path in itertools.product(operations, PATHS):
        progress(
            f"kv {operation:>4} via {path:<4}: {config.warmup:g}s warm-up, {config.duration:g}s"
        )
        results.append(await measure(operation, path, stack, config))
        progress(f"{'':>17}{results[-1].rate:,.0f} req/s")
    return results


# --- report ------------------------------------------------------------------------


def render(results: list[Result], config: Config, cpus: int) -> str:
    lines = throughput_table(results)
    lines.append("")
    for operation, pair in ratios(results).items():
        lines.append(
            f"{operation:<7} REST/SQL {pair['REST/SQL']:.2f}   gRPC/SQL {pair['gRPC/SQL']:.2f}"
        )
    lines += ["", *cpu_table(results, cpus), ""]
    cache = "off" if config.cache_ttl <= 0 else ("Redis" if config.redis else "in-memory")
    lines.append(
        f"concurrency {config.concurrency}, DB pools {config.pool_size}, {config.duration:g}s per"
        f" case, {config.keys:,} keys, core cache {cache}."
    )
    lines.append(NOTE.format(cpus=cpus))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    cpus = os.cpu_count() or 1
    progress("starting core and the REST gateway (embedded PostgreSQL, temporary data dir)")
    pool = str(config.pool_size)
    settings: dict[str, Any] = {
        "PLINTH_DB_POOL_MIN": pool,
        "PLINTH_DB_POOL_MAX": pool,
        "PLINTH_KV_CACHE_TTL": str(config.cache_ttl),
    }
    if config.redis:
        settings["PLINTH_REDIS_URL"] = config.redis
    with running_stack(**settings) as stack:
        results = run_async(kv_section(stack, config, config.operations))
    print(as_json(results, config, cpus) if config.json else render(results, config, cpus))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
