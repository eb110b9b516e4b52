"""Batches: items checked one by one, written all together in one transaction, answered in
the one shape of API.md (built here, passed through by the gateways).

The write runs as one pipeline of per-item statements. When the database refuses it
(a unique violation, …) the transaction is rolled back and the statements run again
one by one under savepoints, only to tell which items failed; that run is rolled
back too, so a failed batch writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from plinth.v1 import record_service_pb2 as pb
from plinth.wire import MAX_BATCH_ITEMS, MAX_BULK_ITEMS
from psycopg import AsyncConnection

from core.errors import Code, CoreError, from_database
from core.records import writes
from core.records.values import CheckedRecord
from core.schema.model import CollectionSpec

MAX_BATCH = MAX_BATCH_ITEMS
MAX_BULK = MAX_BULK_ITEMS

Statement = tuple[str, dict[str, Any]]
# (connection, indexes of statements whose row was missing) -> item errors by index
Misses = Callable[[AsyncConnection, list[int]], Awaitable[dict[int, CoreError]]]
# Writes the items' many_to_many links first, in the same transaction -> item errors
Linker = Callable[[AsyncConnection], Awaitable[dict[int, CoreError]]]


def decode_items(data: bytes, limit: int) -> list[Any]:
    try:
        items = orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        raise CoreError(Code.BAD_REQUEST, f"malformed JSON: {exc}") from None
    if not isinstance(items, list):
        raise CoreError(Code.BAD_REQUEST, "items must be a JSON array")
    check_size(len(items), limit)
    return items


def check_size(count: int, limit: int) -> None:
    if count == 0:
        raise CoreError(Code.BAD_REQUEST, "a batch needs at least one item")
    if count > limit:
        raise CoreError(Code.PAYLOAD_TOO_LARGE, f"a batch holds at most {limit} items, not {count}")


def item_error(exc: CoreError) -> dict[str, Any]:
    return {
        "code": exc.code.value,
        "message": exc.message,
        "field": exc.violations[0].field if exc.violations else None,
    }


def duplicate(key: str) -> CoreError:
    return CoreError(Code.BAD_REQUEST, f"id {key!r} appears more than once in the batch")


@dataclass
class Batch:
    """One batch under way: the items, their failures so far, and the clock."""

    items: list[Any]
    started: float = field(default_factory=time.perf_counter)
    failures: dict[int, CoreError] = field(default_factory=dict)
    checked_at: float = 0.0
    written_at: float = 0.0

    def fail(self, index: int, exc: CoreError) -> None:
        self.failures.setdefault(index, exc)

    def checked(self) -> None:
        self.checked_at = time.perf_counter()

    def result(self, successful: list[str]) -> pb.BatchResult:
        """The answer; `successful` holds each written item's JSON text, in item order."""
        done = time.perf_counter()
        total, failed = len(self.items), len(self.failures)
        checked_at = self.checked_at or done
        written_at = self.written_at or checked_at
        body = {
            "successful": orjson.Fragment("[" + ",".join(successful) + "]") if not failed else [],
            "failed": [
                {"index": i, "item": self.items[i], "error": item_error(self.failures[i])}
                for i in sorted(self.failures)
            ],
            "total_count": total,
            "success_count": 0 if failed else total,
            "failure_count": failed,
            "stats": {
                "processing_time_ms": _ms(done - self.started),
                "validation_time_ms": _ms(checked_at - self.started),
                "database_time_ms": _ms(written_at - checked_at),
            },
        }
        message = f"{failed} of {total} items failed; nothing was written" if failed else ""
        return pb.BatchResult(
            json=orjson.dumps(body, default=str),
            total_count=total,
            failure_count=failed,
            error_message=message,
        )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


async def _linked(conn: AsyncConnection, batch: Batch, linker: Linker | None) -> bool:
    """Run the linker; False (with batch.failures set) when an item named a missing target."""
    if linker is None:
        return True
    for index, exc in (await linker(conn)).items():
        batch.fail(index, exc)
    return not batch.failures


async def write_all(
    conn: AsyncConnection,
    batch: Batch,
    statements: list[Statement],
    misses: Misses,
    linker: Linker | None = None,
) -> list[tuple] | None:
    """Every statement in one transaction: their rows, or None with batch.failures set.

    A statement that returns no row is a miss (a missing or stale record): `misses`
    names the errors, in the same transaction, before it is rolled back.
    """
    missed: list[int] = []
    try:
        async with conn.transaction():
            if not await _linked(conn, batch, linker):
                raise psycopg.Rollback()
            async with conn.pipeline():
                cursors = [await conn.execute(query, params) for query, params in statements]
            rows = [await cur.fetchone() for cur in cursors]
            missed = [i for i, row in enumerate(rows) if row is None]
            if missed:
                for index, exc in (await misses(conn, missed)).items():
                    batch.fail(index, exc)
                raise psycopg.Rollback()
        batch.written_at = time.perf_counter()
        return None if missed or batch.failures else rows
    except psycopg.Error as exc:
        if from_database(exc) is None:
            raise
    await _diagnose(conn, batch, statements)
    if not batch.failures:  # the refusal does not come back item by item: report it whole
        raise CoreError(Code.CONFLICT, "the batch conflicted with a concurrent change; retry")
    batch.written_at = time.perf_counter()
    return None


async def insert_all(
    conn: AsyncConnection,
    batch: Batch,
    schema_name: str,
    collection: CollectionSpec,
    records: list[CheckedRecord],
    *,
    upsert: bool = False,
    linker: Linker | None = None,
) -> list[str]:
    """Records (every id given), one INSERT … unnest per shape of columns (… ON CONFLICT
    with `upsert`); their JSON in item order, or [] with batch.failures set."""
    one = writes.merge_upsert if upsert else writes.insert
    groups: dict[tuple, list[int]] = {}
    for index, record in enumerate(records):
        names, _ = writes._given(collection, record)
        groups.setdefault(tuple(names), []).append(index)
    if not all(writes.unnestable(collection, names) for names in groups):
        statements = [one(schema_name, collection, r) for r in records]
        rows = await write_all(conn, batch, statements, no_misses, linker)
        return [row[0] for row in rows] if rows else []
    position = {record.id: index for index, record in enumerate(records)}
    texts: list[str] = [""] * len(records)
    try:
        async with conn.transaction():
            if not await _linked(conn, batch, linker):
                raise psycopg.Rollback()
            for indexes in groups.values():
                chosen = [records[i] for i in indexes]
                query = writes.insert_many(schema_name, collection, chosen, upsert=upsert)
                cur = await conn.execute(*query)
                for record_id, text in await cur.fetchall():
                    texts[position[record_id]] = text
        batch.written_at = time.perf_counter()
        return [] if batch.failures else texts
    except psycopg.Error as exc:
        if from_database(exc) is None:
            raise
    await _diagnose(conn, batch, [one(schema_name, collection, r) for r in records])
    if not batch.failures:
        raise CoreError(Code.CONFLICT, "the batch conflicted with a concurrent change; retry")
    batch.written_at = time.perf_counter()
    return []


async def _diagnose(conn: AsyncConnection, batch: Batch, statements: list[Statement]) -> None:
    """Which items the database refuses: each under a savepoint, everything rolled back."""
    async with conn.transaction():
        for index, (query, params) in enumerate(statements):
            try:
                async with conn.transaction():
                    await conn.execute(query, params)
            except psycopg.Error as exc:
                mapped = from_database(exc)
                if mapped is None:
                    raise
                batch.fail(index, mapped)
        raise psycopg.Rollback()


async def no_misses(conn: AsyncConnection, missed: list[int]) -> dict[int, CoreError]:
    raise AssertionError("an insert always returns its row")


def no_duplicates(work: Batch, keys: list[str | None]) -> None:
    """An id given twice in one batch fails every later item that repeats it."""
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key is None:
            continue
        if key in seen:
            work.fail(index, duplicate(key))
        seen.add(key)
