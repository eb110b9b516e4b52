"""Streamed import: a file arrives in chunks, every row is checked, the valid ones are
COPYed into a staging table as they come, and one INSERT … ON CONFLICT merges them.

All of it is one transaction: a process killed half-way leaves nothing. A row with
an existing id replaces the record's fields (a deleted record is revived); a row
without an id is created. Fields a row leaves out get their default (or null).
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import psycopg
from plinth.v1 import query_pb2
from plinth.v1 import record_service_pb2 as pb
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from core.errors import Code, PlinthError
from core.query.compile import cached, table
from core.records.batch import item_error
from core.records.values import check_record, check_value
from core.schema.model import EXTRA_COLUMN, CollectionSpec, FieldSpec, SpaceSchema
from core.schema.types import FIELD_TYPES, MAX_ID_LENGTH

MAX_REPORTED = 1000
STAGING = "plinth_import"
GIVEN = "#given"  # staging column: the row named its id (no field can have this name)
JSON_TEXT_TYPES = ("json", "string[]", "integer[]", "float[]")
Row = tuple[int, Any]  # (line, a decoded object or the PlinthError of a malformed line)


# --- parsing: chunks in, (line, object) out ------------------------------------------


class NdjsonRows:
    def __init__(self) -> None:
        self.rest = b""
        self.line = 0

    def feed(self, chunk: bytes) -> Iterator[Row]:
        data = self.rest + chunk
        lines = data.split(b"\n")
        self.rest = lines.pop()
        yield from self._lines(lines)

    def end(self) -> Iterator[Row]:
        yield from self._lines([self.rest] if self.rest.strip() else [])

    def _lines(self, lines: list[bytes]) -> Iterator[Row]:
        for text in lines:
            self.line += 1
            if not text.strip():
                continue
            try:
                yield self.line, orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield self.line, PlinthError(Code.BAD_REQUEST, f"malformed JSON: {exc}")


class JsonRows:
    """A JSON array, parsed whole at the end (element numbers from 1 as lines)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[Row]:
        self.parts.append(chunk)
        return iter(())

    def end(self) -> Iterator[Row]:
        try:
            items = orjson.loads(b"".join(self.parts))
        except orjson.JSONDecodeError as exc:
            raise PlinthError(Code.BAD_REQUEST, f"malformed JSON: {exc}") from None
        if not isinstance(items, list):
            raise PlinthError(Code.BAD_REQUEST, "a JSON import is one array of records")
        yield from enumerate(items, start=1)


class CsvRows:
    """A header line, then one record per line; a quoted field may hold newlines."""

    def __init__(self, collection: CollectionSpec) -> None:
        self.collection = collection
        self.rest = ""
        self.pending: list[str] = []
        self.pending_quotes = 0
        self.line = 0
        self.header: list[str] | None = None

    def feed(self, chunk: bytes) -> Iterator[Row]:
        text = self.rest + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        self.rest = lines.pop()
        return self._records(lines)

    def end(self) -> Iterator[Row]:
        return self._records([self.rest] if self.rest else [], final=True)

    def _records(self, lines: list[str], final: bool = False) -> Iterator[Row]:
        complete: list[tuple[int, str]] = []
        for text in lines:
            self.line += 1
            self.pending.append(text)
            self.pending_quotes += text.count('"')
            if self.pending_quotes % 2 == 0:
                start = self.line - len(self.pending) + 1
                complete.append((start, "\n".join(self.pending)))
                self.pending, self.pending_quotes = [], 0
        if final and self.pending:
            complete.append((self.line - len(self.pending) + 1, "\n".join(self.pending)))
        records = csv.reader([text for _, text in complete])
        for (line, text), values in zip(complete, records, strict=True):
            if not text.strip():
                continue
            if self.header is None:
                self.header = values
                continue
            yield line, self._object(values)

    def _object(self, values: list[str]) -> dict[str, Any] | PlinthError:
        if len(values) != len(self.header or ()):
            return PlinthError(
                Code.BAD_REQUEST, f"{len(values)} values for {len(self.header or ())} columns"
            )
        out: dict[str, Any] = {}
        for name, text in zip(self.header or (), values, strict=True):
            spec = self.collection.by_name.get(name)
            if text == "":
                out[name] = None
            elif spec is not None and spec.type in JSON_TEXT_TYPES:
                try:
                    out[name] = orjson.loads(text)
                except orjson.JSONDecodeError:
                    return PlinthError(Code.BAD_REQUEST, f"{name}: malformed JSON")
            elif spec is not None and FIELD_TYPES[spec.type].from_text is not None:
                try:
                    out[name] = FIELD_TYPES[spec.type].from_text(text)
                except ValueError as exc:
                    return PlinthError(Code.VALIDATION_ERROR, f"{name}: {exc}")
            else:
                out[name] = text
        return out


def _parser(request: pb.ImportRecordsRequest, collection: CollectionSpec):
    if request.format == query_pb2.EXPORT_FORMAT_CSV:
        return CsvRows(collection)
    if request.format == query_pb2.EXPORT_FORMAT_JSON:
        return JsonRows()
    if request.format in (query_pb2.EXPORT_FORMAT_NDJSON, query_pb2.EXPORT_FORMAT_UNSPECIFIED):
        return NdjsonRows()
    raise PlinthError(Code.BAD_REQUEST, "format must be csv, json or ndjson")


# --- statements ------------------------------------------------------------------------


def _columns(collection: CollectionSpec) -> list[str]:
    names = ["id", *(f.name for f in collection.stored)]
    if collection.flexible:
        names.append(EXTRA_COLUMN)
    return names


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
        return sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(STAGING), sql.SQL(", ").join(map(sql.Identifier, names))
        )

    return cached(collection, ("import_copy",), build)


def _insert_new(schema_name: str, collection: CollectionSpec) -> str:
    """Rows that came without an id got a fresh one: they cannot conflict, so a plain
    INSERT takes them (cheaper than ON CONFLICT's speculative insertion)."""

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
        sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in names[1:]]
        sets.append(
            sql.SQL(
                "created_at = CASE WHEN t.deleted_at IS NULL THEN t.created_at ELSE now() END,"
                " updated_at = now(), deleted_at = NULL, version = t.version + 1"
            )
        )
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
            sql.SQL(", ").join(sets),
        )

    return cached(collection, ("import_merge", schema_name), build)


# --- the import ------------------------------------------------------------------------


class Rows:
    """Checked rows as COPY tuples, and the rejected ones with their reasons.

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
        self.known = frozenset(["id", *(f.name for f in collection.stored)])
        self.ids: set[str] = set()
        self.rejected = 0
        self.report: list[dict[str, Any]] = []

    def reject(self, line: int, exc: PlinthError) -> None:
        self.rejected += 1
        if len(self.report) < MAX_REPORTED:
            self.report.append({"line": line, "error": item_error(exc)})

    def row(self, line: int, value: Any) -> tuple | None:
        if (
            isinstance(value, dict)
            and not self.collection.flexible
            and self.known.issuperset(value)
        ):
            out = self._fast(value)
            if out is not None:
                return self._unique(line, out)
        return self._checked(line, value)

    def _fast(self, value: dict[str, Any]) -> list | None:
        record_id = value.get("id")
        if record_id is not None and not (
            isinstance(record_id, str)
            and 0 < len(record_id) <= MAX_ID_LENGTH
            and record_id.isprintable()
        ):
            return None
        out = [record_id]
        try:
            for name, convert, required, default in self.fields:
                item = value.get(name)
                if item is None:
                    if required and (name in value or default is None):
                        return None
                    out.append(item if name in value else default)
                else:
                    out.append(convert(item))
        except ValueError:
            return None
        return out

    def _checked(self, line: int, value: Any) -> tuple | None:
        if isinstance(value, PlinthError):
            self.reject(line, value)
            return None
        if not isinstance(value, dict):
            self.reject(line, PlinthError(Code.BAD_REQUEST, "a row must be a JSON object"))
            return None
        try:
            record = check_record(self.collection, value, partial=False)
        except PlinthError as exc:
            self.reject(line, exc)
            return None
        if record.links:
            field = next(iter(record.links))
            message = f"{field}: many_to_many links are not imported; write them in batches"
            self.reject(line, PlinthError(Code.BAD_REQUEST, message))
            return None
        columns = record.columns
        out = [record.id]
        for spec, default in zip(self.collection.stored, self.defaults, strict=True):
            out.append(columns[spec.name] if spec.name in columns else default)
        if self.collection.flexible:
            out.append(Jsonb(record.extras))
        return self._unique(line, out)

    def _unique(self, line: int, out: list) -> tuple | None:
        record_id = out[0]
        out.append(record_id is not None)
        if record_id is None:
            out[0] = new_id()
        elif record_id in self.ids:
            message = f"id {record_id!r} appears more than once"
            self.reject(line, PlinthError(Code.BAD_REQUEST, message))
            return None
        else:
            self.ids.add(record_id)
        return tuple(out)


_RANDOM_IDS = 1024
_random: list[int] = []


def _random_bits() -> int:
    """80 random bits from the OS, drawn for 1,024 ids at a time (one system call)."""
    if not _random:
        block = os.urandom(10 * _RANDOM_IDS)
        _random.extend(int.from_bytes(block[i : i + 10]) for i in range(0, len(block), 10))
    return _random.pop()


def new_id() -> str:
    """A UUIDv7 as plinth.uuid7() makes it: 48-bit Unix milliseconds, version 7, random bits.

    Made here rather than per row in SQL: the embedded server reads its random bytes
    from the kernel one call at a time, which costs more than the rest of a row's load.
    """
    bits = _random_bits()
    value = (
        (time.time_ns() // 1_000_000) << 80
        | 0x7 << 76
        | (bits >> 68) << 64
        | 0b10 << 62
        | bits & (2**62 - 1)
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


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


async def _chunks(
    first: pb.ImportRecordsRequest, rest: AsyncIterator[pb.ImportRecordsRequest]
) -> AsyncIterator[bytes]:
    yield first.chunk
    async for message in rest:
        yield message.chunk


async def import_records(
    pool: AsyncConnectionPool,
    space: SpaceSchema,
    collection: CollectionSpec,
    first: pb.ImportRecordsRequest,
    rest: AsyncIterator[pb.ImportRecordsRequest],
) -> pb.ImportRecordsResponse:
    parser = _parser(first, collection)
    skip_invalid = first.mode == pb.IMPORT_MODE_SKIP_INVALID
    rows = Rows(collection)
    inserted = updated = 0
    committed = False
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(_staging(space.schema_name, collection))
            async with conn.cursor() as cur, cur.copy(_copy(collection)) as copy:
                async for chunk in _chunks(first, rest):
                    for line, value in parser.feed(chunk):
                        row = rows.row(line, value)
                        if row is not None:
                            await copy.write_row(row)
                for line, value in parser.end():
                    row = rows.row(line, value)
                    if row is not None:
                        await copy.write_row(row)
            if rows.rejected and not skip_invalid:
                raise psycopg.Rollback()
            cur = await conn.execute(_insert_new(space.schema_name, collection))
            fresh = max(cur.rowcount, 0)
            if rows.ids:
                cur = await conn.execute(_merge(space.schema_name, collection))
                inserted, updated = await cur.fetchone()
            inserted += fresh
            committed = True
    return pb.ImportRecordsResponse(
        inserted=inserted,
        updated=updated,
        rejected=rows.rejected,
        rejected_rows=orjson.dumps(rows.report),
        committed=committed,
    )
