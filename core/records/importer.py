"""Streamed import: a file arrives in chunks, every row is checked, and the valid ones
are COPYed into the database as they come.

A row without an id gets a fresh UUIDv7 here and cannot conflict, so it is COPYed
straight into the collection's table: Postgres inserts it (indexes, relation triggers)
while core checks the next rows. A row with an id replaces the record with that id (a
deleted record is revived) or is created; those rows wait in memory and are merged at
the end through a staging table with one INSERT … ON CONFLICT. One connection runs one
COPY at a time, so when more rows with ids come than memory holds (`id_buffer`), the
direct COPY ends and every later row goes through the staging table. Fields a row
leaves out get their default (or null).

All of it is one transaction: a process killed half-way leaves nothing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from time import time_ns
from typing import Any

import orjson
import psycopg
from plinth.v1 import record_service_pb2 as pb
from psycopg import AsyncConnection, AsyncCopy, AsyncCursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from core.errors import Code, CoreError
from core.query.compile import cached, table
from core.records.batch import item_error
from core.records.import_formats import Parser, Row, parser
from core.records.values import check_record, check_value
from core.records.writes import upsert_sets
from core.schema.model import EXTRA_COLUMN, CollectionSpec, FieldSpec, SpaceSchema
from core.schema.types import FIELD_TYPES, MAX_ID_LENGTH

MAX_REPORTED = 1000
STAGING = "plinth_import"
Checked = tuple[list, bool]  # a valid row's column values (id first), and whether it named its id
GIVEN = "#given"  # staging column: the row named its id (no field can have this name)


# --- statements ------------------------------------------------------------------------


def _columns(collection: CollectionSpec) -> list[str]:
    names = ["id", *(f.name for f in collection.stored)]
    if collection.flexible:
        names.append(EXTRA_COLUMN)
    return names


def _probe(schema_name: str, collection: CollectionSpec) -> str:
    """No rows, only the columns' types as the table has them (not as this process's
    schema cache says: another process may have just changed one). The COPYs are binary
    (cheaper to write and to read than text), so each value is sent in its column's own
    encoding; this statement's lock keeps the types until the import ends."""

    def build() -> sql.Composable:
        return sql.SQL("SELECT {} FROM {} LIMIT 0").format(
            sql.SQL(", ").join(map(sql.Identifier, _columns(collection))),
            sql.Identifier(schema_name, collection.name),
        )

    return cached(collection, ("import_types", schema_name), build)


def _direct(schema_name: str, collection: CollectionSpec) -> str:
    """Rows without an id, into the table itself (the other columns take their default)."""

    def build() -> sql.Composable:
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(schema_name, collection.name),
            sql.SQL(", ").join(map(sql.Identifier, _columns(collection))),
        )

    return cached(collection, ("import_direct", schema_name), build)


def _staging(schema_name: str, collection: CollectionSpec) -> str:
    def build() -> sql.Composable:
        return sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {}, true AS {} FROM {} WITH NO DATA"
        ).format(
            sql.Identifier(STAGING),
            sql.SQL(", ").join(map(sql.Identifier, _columns(collection))),
            sql.Identifier(GIVEN),
            sql.Identifier(schema_name, collection.name),
        )

    return cached(collection, ("import_staging", schema_name), build)


def _copy(collection: CollectionSpec) -> str:
    def build() -> sql.Composable:
        names = [*_columns(collection), GIVEN]
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(STAGING), sql.SQL(", ").join(map(sql.Identifier, names))
        )

    return cached(collection, ("import_copy",), build)


def _insert_new(schema_name: str, collection: CollectionSpec) -> str:
    """Staged rows that came without an id got a fresh one: they cannot conflict, so a
    plain INSERT takes them (cheaper than ON CONFLICT's speculative insertion)."""

    def build() -> sql.Composable:
        names = sql.SQL(", ").join(map(sql.Identifier, _columns(collection)))
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE NOT {}").format(
            table(schema_name, collection),
            names,
            names,
            sql.Identifier(STAGING),
            sql.Identifier(GIVEN),
        )

    return cached(collection, ("import_insert", schema_name), build)


def _merge(schema_name: str, collection: CollectionSpec) -> str:
    """Rows that named their id: created, or replacing the record with that id."""

    def build() -> sql.Composable:
        names = _columns(collection)
        selected = [sql.SQL("s.{}").format(sql.Identifier(n)) for n in names]
        return sql.SQL(
            "WITH m AS (INSERT INTO {} ({}) SELECT {} FROM {} AS s WHERE s.{}"
            " ON CONFLICT (id) DO UPDATE SET {} RETURNING (t.xmax = 0) AS created)"
            " SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM m"
        ).format(
            table(schema_name, collection),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(selected),
            sql.Identifier(STAGING),
            sql.Identifier(GIVEN),
            upsert_sets(names, merge_extra=False),
        )

    return cached(collection, ("import_merge", schema_name), build)


# --- checked rows ----------------------------------------------------------------------


class Rows:
    """Checked rows as lists of column values (id first: None when the row named none),
    and the rejected ones with their reasons.

    A row of only declared fields (and id) whose values convert cleanly takes a fast
    path: one converter per field, compiled once. Anything else (an unknown or system
    key, a flexible collection, a value that fails) goes through check_record, which
    names every violation.
    """

    def __init__(self, collection: CollectionSpec) -> None:
        self.collection = collection
        self.defaults = [
            None if f.default is None else check_value(f, f.default) for f in collection.stored
        ]
        self.fields = [
            (f.name, _converter(f), f.required, d)
            for f, d in zip(collection.stored, self.defaults, strict=True)
        ]
        names = ["id", *(f.name for f in collection.stored)]
        self.known = None if collection.flexible else frozenset(names)  # for the fast path
        self.ids: set[str] = set()
        self.rejected = 0
        self.report: list[dict[str, Any]] = []

    def reject(self, line: int, exc: CoreError) -> None:
        self.rejected += 1
        if len(self.report) < MAX_REPORTED:
            self.report.append({"line": line, "error": item_error(exc)})

    def row(self, line: int, value: Any) -> list | None:
        """The row's column values, or None when it is rejected (and reported)."""
        known = self.known
        if known is not None and type(value) is dict and known.issuperset(value):
            record_id = value.get("id")
            if record_id is None or (
                type(record_id) is str
                and 0 < len(record_id) <= MAX_ID_LENGTH
                and record_id.isprintable()
            ):
                out = [record_id]
                append = out.append
                try:
                    for name, convert, required, default in self.fields:
                        item = value.get(name)
                        if item is not None:
                            append(convert(item))
                        elif name in value:
                            if required:
                                break
                            append(None)
                        elif required and default is None:
                            break
                        else:
                            append(default)
                    else:
                        return out if record_id is None else self._unique(line, out)
                except ValueError:
                    pass
        return self._checked(line, value)

    def _checked(self, line: int, value: Any) -> list | None:
        if isinstance(value, CoreError):
            self.reject(line, value)
            return None
        if not isinstance(value, dict):
            self.reject(line, CoreError(Code.BAD_REQUEST, "a row must be a JSON object"))
            return None
        try:
            record = check_record(self.collection, value, partial=False)
        except CoreError as exc:
            self.reject(line, exc)
            return None
        if record.links:
            field = next(iter(record.links))
            message = f"{field}: many_to_many links are not imported; write them in batches"
            self.reject(line, CoreError(Code.BAD_REQUEST, message))
            return None
        columns = record.columns
        out = [record.id]
        for spec, default in zip(self.collection.stored, self.defaults, strict=True):
            out.append(columns[spec.name] if spec.name in columns else default)
        if self.collection.flexible:
            out.append(Jsonb(record.extras))
        return out if record.id is None else self._unique(line, out)

    def _unique(self, line: int, out: list) -> list | None:
        record_id = out[0]
        if record_id in self.ids:
            message = f"id {record_id!r} appears more than once"
            self.reject(line, CoreError(Code.BAD_REQUEST, message))
            return None
        self.ids.add(record_id)
        return out


def _converter(spec: FieldSpec):
    """The field's conversion, with check_value's rules only when the field has some."""
    plain = (
        spec.min is None
        and spec.max is None
        and spec.max_length is None
        and spec.pattern is None
        and not spec.values
    )
    if plain:
        return FIELD_TYPES[spec.type].convert
    return lambda value: check_value(spec, value)


# --- ids -------------------------------------------------------------------------------

_ID_BLOCK = 1024  # ids drawn from the OS at a time (one system call)
# The random part of an id, "rrr-vrrr-rrrrrrrrrrrr": 12 random bits, then the variant 10
# and 62 random bits. In a block each is followed by a space, to be split apart in C.
_SUFFIX = 22
_RANDOM_AT = (0, 1, 2, 5, 6, 7, *range(9, 21))  # where its 18 random hex digits go
_VARIANT = bytes(b"89ab"[i & 3] for i in range(256))  # a random byte -> 10xx in hex
_suffixes: list[str] = []  # popped from the end
_ms = -1
_prefix = ""  # "tttttttt-tttt-7": the millisecond of _ms and the version


def _fresh_suffixes() -> list[str]:
    """The random parts of _ID_BLOCK ids, laid out a column at a time.

    Sorted, so that the ids made within one millisecond increase too (but where a new
    block starts): an import's rows then arrive in key order at the primary key and the
    (created_at, id) index, which costs the database a quarter less than random order.
    """
    digits = os.urandom(9 * _ID_BLOCK).hex().encode()  # 18 hex digits an id
    text = bytearray(_SUFFIX * _ID_BLOCK)
    for n, at in enumerate(_RANDOM_AT):
        text[at::_SUFFIX] = digits[n::18]
    text[3::_SUFFIX] = text[8::_SUFFIX] = b"-" * _ID_BLOCK
    text[4::_SUFFIX] = os.urandom(_ID_BLOCK).translate(_VARIANT)
    text[21::_SUFFIX] = b" " * _ID_BLOCK
    return sorted(text.decode().split(), reverse=True)


def new_id() -> str:
    """A UUIDv7 as plinth.uuid7() makes it: 48-bit Unix milliseconds, version 7, variant
    10, random bits; lower-case hex, 8-4-4-4-12.

    Made here rather than per row in SQL: the embedded server reads its random bytes
    from the kernel one call at a time, which costs more than the rest of a row's load.
    The time part is formatted once a millisecond, the random part once per 1,024 ids
    (an import makes one per row without an id, so this is on its hot path).
    """
    global _ms, _prefix
    ms = time_ns() // 1_000_000
    if ms != _ms:
        hex_ms = f"{ms:012x}"
        _ms, _prefix = ms, f"{hex_ms[:8]}-{hex_ms[8:]}-7"
    try:
        return _prefix + _suffixes.pop()
    except IndexError:
        _suffixes.extend(_fresh_suffixes())
        return _prefix + _suffixes.pop()


# --- the load --------------------------------------------------------------------------


class Load:
    """Where the checked rows go, on the import's connection and in its transaction.

    Direct (the start): rows without an id are COPYed into the table, rows with one are
    held in memory, to be staged and merged at the end. Staged (once more than id_buffer
    rows with an id came): the direct COPY ends, and the held rows and every later row
    are COPYed into the staging table, as the merge at the end expects.

    The direct COPY is where the database refuses a row without an id (a unique value
    taken, a relation id that names no record: SQLSTATE class 23). That error is kept in
    `error` and the rest of the file is still checked, so the answer stays the one the
    merge gave: rejected rows first in all_or_nothing mode, else the database's error.
    """

    def __init__(
        self, schema_name: str, collection: CollectionSpec, rows: Rows, id_buffer: int
    ) -> None:
        self.schema_name = schema_name
        self.id_buffer = id_buffer
        self.collection = collection
        self.rows = rows
        self.held: list[list] = []  # rows with an id, while direct
        self.direct = 0  # rows COPYed into the table
        self.staged = False
        self.error: psycopg.errors.IntegrityError | None = None

    async def run(self, cur: AsyncCursor, batches: AsyncIterator[Iterator[Row]]) -> None:
        await cur.execute(_probe(self.schema_name, self.collection))
        types = [column.type_code for column in cur.description or ()]
        leftover: Iterator[Checked] | None = None  # of the batch whose row overflowed `held`
        try:
            async with cur.copy(_direct(self.schema_name, self.collection)) as copy:
                copy.set_types(types)
                async for batch in batches:
                    leftover = await self._direct(copy, self._checked(batch))
                    if leftover is not None:
                        break
        except psycopg.errors.IntegrityError as exc:
            self.error = exc  # the transaction is aborted: the rest is only checked
            for _ in leftover or ():
                pass
            async for batch in batches:
                for _ in self._checked(batch):
                    pass
            return
        if leftover is None and not self.held:
            return
        await cur.execute(_staging(self.schema_name, self.collection))
        self.staged = leftover is not None
        async with cur.copy(_copy(self.collection)) as copy:
            copy.set_types([*types, "boolean"])
            for out in self.held:
                out.append(True)
                await copy.write_row(out)
            self.held = []
            if leftover is not None:
                await self._staged(copy, leftover)
                async for batch in batches:
                    await self._staged(copy, self._checked(batch))

    def _checked(self, batch: Iterator[Row]) -> Iterator[Checked]:
        """The batch's valid rows, each with its id (a fresh one when it named none) and
        whether it named one (rejected rows are reported on the way)."""
        row, make_id = self.rows.row, new_id
        for line, value in batch:
            out = row(line, value)
            if out is None:
                continue
            if out[0] is None:
                out[0] = make_id()
                yield out, False
            else:
                yield out, True

    async def _direct(
        self, copy: AsyncCopy, checked: Iterator[Checked]
    ) -> Iterator[Checked] | None:
        """Write a batch; the rest of it when the held rows overflow (None: all taken)."""
        held, write_row = self.held, copy.write_row
        count = 0
        try:
            for out, given in checked:
                if not given:
                    await write_row(out)
                    count += 1
                else:
                    held.append(out)
                    if len(held) > self.id_buffer:
                        return checked
            return None
        finally:
            self.direct += count

    async def _staged(self, copy: AsyncCopy, checked: Iterator[Checked]) -> None:
        write_row = copy.write_row
        for out, given in checked:
            out.append(given)
            await write_row(out)

    async def merge(self, conn: AsyncConnection) -> tuple[int, int]:
        """Staged rows without an id, then rows with one: (inserted, updated) in all."""
        inserted, updated = self.direct, 0
        if self.staged:
            cur = await conn.execute(_insert_new(self.schema_name, self.collection))
            inserted += max(cur.rowcount, 0)
        if self.rows.ids:
            cur = await conn.execute(_merge(self.schema_name, self.collection))
            merged, updated = await cur.fetchone()
            inserted += merged
        return inserted, updated


async def _batches(
    rows: Parser, first: pb.ImportRecordsRequest, rest: AsyncIterator[pb.ImportRecordsRequest]
) -> AsyncIterator[Iterator[Row]]:
    """The parsed rows of each chunk as it arrives, then those of the end of the file."""
    yield rows.feed(first.chunk)
    async for message in rest:
        yield rows.feed(message.chunk)
    yield rows.end()


async def import_records(
    pool: AsyncConnectionPool,
    space: SpaceSchema,
    collection: CollectionSpec,
    first: pb.ImportRecordsRequest,
    rest: AsyncIterator[pb.ImportRecordsRequest],
    id_buffer: int,
) -> pb.ImportRecordsResponse:
    batches = _batches(parser(first, collection), first, rest)
    skip_invalid = first.mode == pb.IMPORT_MODE_SKIP_INVALID
    rows = Rows(collection)
    load = Load(space.schema_name, collection, rows, id_buffer)
    inserted = updated = 0
    committed = False
    async with pool.connection() as conn:
        async with conn.transaction():
            async with conn.cursor() as cur:
                await load.run(cur, batches)
            if rows.rejected and not skip_invalid:
                raise psycopg.Rollback()
            if load.error is not None:
                raise load.error
            inserted, updated = await load.merge(conn)
            committed = True
    return pb.ImportRecordsResponse(
        inserted=inserted,
        updated=updated,
        rejected=rows.rejected,
        rejected_rows=orjson.dumps(rows.report),
        committed=committed,
    )
