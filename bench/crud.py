"""CRUD throughput: GET-by-id and create through the REST gateway, through gRPC directly, and
the same SQL through psycopg directly, in one run. Prints req/s, latency and the ratios
REST/SQL and gRPC/SQL per operation, plus CPU per request of each process.

    .venv/bin/python -m bench.crud [--concurrency 32] [--duration 8] [--json]

The load generator is one asyncio process on the same machine as the servers, so each path
shares the CPUs with it: the numbers say what the layers cost on this box, not over a network.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson
import psycopg
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import record_service_pb2_grpc as rpc
from psycopg import sql

from bench.cli import add_load_options, config_from, run
from bench.load import (
    CALL_TIMEOUT,
    Result,
    as_json,
    check_connections,
    create_collection,
    measure_call,
    paths_report,
    progress,
    space_id,
)
from bench.paths import GrpcPath, RestPath, SqlPath
from bench.stack import Stack
from core.query.compile import select_one
from core.records.values import check_record
from core.records.writes import insert
from core.schema.cache import load_space

COLLECTION = "bench_items"
SCHEMA = {
    "name": COLLECTION,
    "mode": "strict",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "price", "type": "float"},
        {"name": "qty", "type": "integer"},
    ],
}
OPERATIONS = ("get", "create")
PATHS = ("SQL", "gRPC", "REST")


# --- configuration -----------------------------------------------------------


@dataclass(frozen=True)
class Config:
    concurrency: int
    duration: float
    warmup: float
    max_requests: int
    records: int
    pool_size: int
    http_client: str
    seed: int
    json: bool


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser, concurrency=32, per="case")
    parser.add_argument("--records", type=int, default=10_000, help="records seeded for GETs")
    parser.add_argument(
        "--http-client",
        choices=("raw", "httpx"),
        default="raw",
        help="REST load: raw asyncio HTTP/1.1 (default; httpx costs the client far more CPU)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for the GET ids")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0 or args.records < 1:
        parser.error("--concurrency, --duration and --records must be positive")
    return config_from(Config, args)


def records(start: int = 0) -> Iterator[dict[str, Any]]:
    """Fresh record bodies, one shape, so every path runs one prepared statement."""
    for n in itertools.count(start):
        yield {"name": f"item-{n}", "price": n * 0.25, "qty": n % 1000}


# --- the SQL path: the statements core runs, built by core's own functions ---------------


@dataclass(frozen=True)
class Statements:
    get: str
    insert: str


def insert_params(record: dict[str, Any]) -> dict[str, Any]:
    """insert()'s parameters for a body of the bench shape: p0.. in field order."""
    return {f"p{i}": value for i, value in enumerate(record.values())}


def _same(found: object, expected: object, what: str) -> None:
    if found != expected:
        raise RuntimeError(f"{what}: core binds {found!r}, the SQL path would bind {expected!r}")


async def prepare_sql(stack: Stack, pool_size: int) -> Statements:
    """GetRecord's and CreateRecord's SQL text for bench_items, composed by core's functions.

    Also VACUUM ANALYZE the seeded table, so autovacuum does not wake up mid-measurement.
    """
    async with await psycopg.AsyncConnection.connect(stack.database_url(), autocommit=True) as conn:
        await check_connections(conn, pool_size)
        space = await load_space(conn, await space_id(conn, stack.admin_key))
        collection = space.collections[COLLECTION]
        await conn.execute(
            sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(space.schema_name, COLLECTION))
        )
        get, get_params = select_one(space.schema_name, collection, "some-id", None)
        sample = next(records())
        checked = check_record(collection, sample, partial=False)
        create, create_params = insert(space.schema_name, collection, checked)
        # The SQL path binds parameters itself: they must be the ones core binds.
        _same(get_params, {"p0": "some-id"}, "GetRecord")
        _same(create_params, insert_params(sample), "CreateRecord")
        return Statements(get=get, insert=create)


# --- targets: one per path, each runs one request per call ----------------------------------


class Target(Protocol):
    async def get(self, record_id: str) -> object: ...
    async def create(self, record: dict[str, Any]) -> object: ...
    async def close(self) -> None: ...


class SqlTarget:
    """GetRecord's and CreateRecord's statements on the SQL path."""

    def __init__(self, db: SqlPath, statements: Statements) -> None:
        self._db = db
        self._statements = statements

    async def get(self, record_id: str) -> None:
        await self._db.fetch((self._statements.get, {"p0": record_id}))

    async def create(self, record: dict[str, Any]) -> None:
        await self._db.fetch((self._statements.insert, insert_params(record)))

    async def close(self) -> None:
        await self._db.close()


class GrpcTarget(GrpcPath):
    stub_class = rpc.RecordServiceStub

    async def get(self, record_id: str) -> None:
        request = pb.GetRecordRequest(collection=COLLECTION, id=record_id)
        await self.stub.GetRecord(request, metadata=self.metadata, timeout=CALL_TIMEOUT)

    async def create(self, record: dict[str, Any]) -> bytes:
        request = pb.CreateRecordRequest(collection=COLLECTION, data=orjson.dumps(record))
        answer = await self.stub.CreateRecord(request, metadata=self.metadata, timeout=CALL_TIMEOUT)
        return answer.record.json


class RawRestTarget(RestPath):
    """The raw client: the cheapest client side."""

    async def get(self, record_id: str) -> None:
        await self.pool.get(f"/api/v1/{COLLECTION}/{record_id}")

    async def create(self, record: dict[str, Any]) -> None:
        await self.pool.request("POST", f"/api/v1/{COLLECTION}", orjson.dumps(record), 201)


class HttpxRestTarget:
    """httpx.AsyncClient with a keep-alive pool as large as the concurrency."""

    def __init__(self, stack: Stack, size: int) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._client = httpx.AsyncClient(
            base_url=stack.rest_url, headers=stack.headers(), limits=limits, timeout=CALL_TIMEOUT
        )

    @staticmethod
    def _check(response: httpx.Response, expect: int) -> None:
        if response.status_code != expect:
            raise RuntimeError(f"REST {response.request.url}: HTTP {response.status_code}")

    async def get(self, record_id: str) -> None:
        self._check(await self._client.get(f"/api/v1/{COLLECTION}/{record_id}"), 200)

    async def create(self, record: dict[str, Any]) -> None:
        body = orjson.dumps(record)
        headers = {"Content-Type": "application/json"}
        response = await self._client.post(f"/api/v1/{COLLECTION}", content=body, headers=headers)
        self._check(response, 201)

    async def close(self) -> None:
        await self._client.aclose()


async def open_target(path: str, stack: Stack, config: Config, statements: Statements) -> Target:
    if path == "SQL":
        return SqlTarget(await SqlPath.open(stack, config.pool_size), statements)
    if path == "gRPC":
        return GrpcTarget(stack)
    if config.http_client == "httpx":
        return HttpxRestTarget(stack, config.concurrency)
    return await RawRestTarget.open(stack, config.concurrency)


# --- load ------------------------------------------------------------------------------


@dataclass
class Workload:
    statements: Statements
    ids: list[str]  # the seeded records, for GETs
    rng: random.Random
    fresh: Iterator[dict[str, Any]]  # bodies for creates

    def caller(self, operation: str, target: Target) -> Callable[[], Awaitable[object]]:
        if operation == "get":
            return lambda: target.get(self.rng.choice(self.ids))
        return lambda: target.create(next(self.fresh))


async def measure(
    operation: str, path: str, stack: Stack, config: Config, workload: Workload
) -> Result:
    target = await open_target(path, stack, config, workload.statements)
    try:
        return await measure_call(
            workload.caller(operation, target), operation, path, stack, config
        )
    finally:
        await target.close()


# --- setup ------------------------------------------------------------------------------


async def seed(stack: Stack, count: int, concurrency: int) -> list[str]:
    """`count` records through gRPC; returns their ids (assigned by core)."""
    target = GrpcTarget(stack)
    ids: list[str] = []
    bodies = itertools.islice(records(), count)  # shared by the workers: exactly `count`
    step = max(count // 10, 1)

    async def worker() -> None:
        for body in bodies:
            ids.append(orjson.loads(await target.create(body))["id"])
            if len(ids) % step == 0:
                progress(f"  seeded {len(ids):,}/{count:,}")

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, count)):
                group.create_task(worker())
    finally:
        await target.close()
    return ids


async def bench(stack: Stack, config: Config) -> list[Result]:
    progress(f"creating {COLLECTION} and seeding {config.records:,} records through gRPC")
    await create_collection(stack, SCHEMA)
    ids = await seed(stack, config.records, config.concurrency)
    workload = Workload(
        statements=await prepare_sql(stack, config.pool_size),
        ids=ids,
        rng=random.Random(config.seed),
        # Names continue after the seeded ones; ids are assigned by Postgres in every path.
        fresh=records(len(ids)),
    )
    results = []
    for operation, path in itertools.product(OPERATIONS, PATHS):
        progress(f"{operation:>6} via {path:<4}: {config.warmup:g}s warm-up, {config.duration:g}s")
        results.append(await measure(operation, path, stack, config, workload))
        progress(f"{'':>15}{results[-1].rate:,.0f} req/s")
    return results


# --- report -----------------------------------------------------------------------------


def render(results: list[Result], config: Config, cpus: int) -> str:
    details = f"REST client {config.http_client}, {config.records:,} seeded records"
    return paths_report(results, config, cpus, details)


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv), bench, render, as_json)


if __name__ == "__main__":
    main()
