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
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import orjson
from plinth.v1 import kv_service_pb2 as pb
from plinth.v1 import kv_service_pb2_grpc as rpc

from bench.cli import add_load_options, config_from, run
from bench.load import CALL_TIMEOUT, Result, as_json, measure_call, paths_report, progress, space_id
from bench.paths import GrpcPath, RestPath, SqlPath
from bench.stack import Stack

OPERATIONS = ("get", "set")
PATHS = ("SQL", "gRPC", "REST")
VALUE = {"name": "Ada", "plan": "pro", "visits": 12, "tags": ["a", "b"]}
# The statements a developer would write for one key (core's own take lists of keys).
GET_ONE = (
    "SELECT value::text, (extract(epoch FROM expires_at) * 1000)::bigint FROM plinth.kv"
    " WHERE space_id = %(space)s AND key = %(key)s"
    " AND (expires_at IS NULL OR expires_at > now())"
)
SET_ONE = (
    "INSERT INTO plinth.kv (space_id, key, value) VALUES (%(space)s, %(key)s, %(value)s::jsonb)"
    " ON CONFLICT (space_id, key) DO UPDATE"
    " SET value = excluded.value, expires_at = NULL, updated_at = now()"
    " RETURNING value::text, (extract(epoch FROM expires_at) * 1000)::bigint"
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
    add_load_options(parser, concurrency=32, per="case")
    parser.add_argument("--keys", type=int, default=10_000, help="keys seeded for GETs")
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
    return config_from(Config, args, operations=operations)


def key_name(n: int) -> str:
    return f"bench:user:{n}"


# --- the three paths -------------------------------------------------------------


class SqlTarget:
    """GET_ONE and SET_ONE on core's pool settings."""

    def __init__(self, db: SqlPath, space: str) -> None:
        self._db = db
        self._space = space

    @classmethod
    async def open(cls, stack: Stack, size: int) -> SqlTarget:
        db = await SqlPath.open(stack, size)
        async with db.pool.connection() as conn:
            space = await space_id(conn, stack.admin_key)
        return cls(db, space)

    async def get(self, key: str) -> None:
        await self._db.fetch((GET_ONE, {"space": self._space, "key": key}))

    async def set(self, key: str, value: bytes) -> None:
        await self._db.fetch((SET_ONE, {"space": self._space, "key": key, "value": value.decode()}))

    async def close(self) -> None:
        await self._db.close()


class GrpcTarget(GrpcPath):
    stub_class = rpc.KeyValueServiceStub

    async def get(self, key: str) -> None:
        await self.stub.GetKey(
            pb.GetKeyRequest(key=key), metadata=self.metadata, timeout=CALL_TIMEOUT
        )

    async def set(self, key: str, value: bytes) -> None:
        await self.stub.SetKey(
            pb.SetKeyRequest(key=key, value=value), metadata=self.metadata, timeout=CALL_TIMEOUT
        )


class RestTarget(RestPath):
    async def get(self, key: str) -> None:
        await self.pool.get("/api/v1/kv/" + quote(key, safe="/:"))

    async def set(self, key: str, value: bytes) -> None:
        await self.pool.request("PUT", "/api/v1/kv/" + quote(key, safe="/:"), value)


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
        return await measure_call(call, operation, path, stack, config)
    finally:
        await target.close()


async def seed(stack: Stack, count: int, concurrency: int) -> None:
    target = GrpcTarget(stack)
    value = orjson.dumps(VALUE)
    try:
        for start in range(0, count, concurrency * 8):
            batch = range(start, min(start + concurrency * 8, count))
            await asyncio.gather(*(target.set(key_name(n), value) for n in batch))
    finally:
        await target.close()


async def kv_section(stack: Stack, config: Config) -> list[Result]:
    """Seed the keys and measure each operation of --operations on every path (callable from
    other benches)."""
    progress(f"seeding {config.keys:,} keys through gRPC")
    await seed(stack, config.keys, config.concurrency)
    results = []
    for operation, path in itertools.product(config.operations, PATHS):
        progress(
            f"kv {operation:>4} via {path:<4}: {config.warmup:g}s warm-up, {config.duration:g}s"
        )
        results.append(await measure(operation, path, stack, config))
        progress(f"{'':>17}{results[-1].rate:,.0f} req/s")
    return results


# --- report ------------------------------------------------------------------------


def render(results: list[Result], config: Config, cpus: int) -> str:
    cache = "off" if config.cache_ttl <= 0 else ("Redis" if config.redis else "in-memory")
    return paths_report(results, config, cpus, f"{config.keys:,} keys, core cache {cache}")


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    settings = {"PLINTH_KV_CACHE_TTL": str(config.cache_ttl)}
    if config.redis:
        settings["PLINTH_REDIS_URL"] = config.redis
    run(config, kv_section, render, as_json, **settings)


if __name__ == "__main__":
    main()
