"""RecordService: one short handler per action, each one SQL statement where possible."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import grpc
import orjson
from plinth.v1 import common_pb2, query_pb2
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import record_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current
from core.edges.service import EdgeHandlers
from core.errors import Code, PlinthError, not_found
from core.query import ast, compile, cursor, plan
from core.records import batch, links, writes
from core.records.batch import Batch
from core.records.export import EXPORT_FORMATS, export_chunks
from core.records.importer import import_records, new_id
from core.records.operators import CheckedUpdate, check_update
from core.records.values import (
    UNKNOWN_FIELD,
    CheckedRecord,
    check_id,
    check_record,
    decode_object,
)
from core.schema.cache import SchemaCache
from core.schema.model import CollectionSpec, SpaceSchema

# The wire enum -> the function names of the REST API and of the JSON answer.
AGGREGATE_NAMES = {
    query_pb2.AGGREGATE_FUNCTION_COUNT: "count",
    query_pb2.AGGREGATE_FUNCTION_COUNT_DISTINCT: "countDistinct",
    query_pb2.AGGREGATE_FUNCTION_COUNT_ALL: "countAll",
    query_pb2.AGGREGATE_FUNCTION_SUM: "sum",
    query_pb2.AGGREGATE_FUNCTION_SUM_DISTINCT: "sumDistinct",
    query_pb2.AGGREGATE_FUNCTION_AVG: "avg",
    query_pb2.AGGREGATE_FUNCTION_AVG_DISTINCT: "avgDistinct",
    query_pb2.AGGREGATE_FUNCTION_MIN: "min",
    query_pb2.AGGREGATE_FUNCTION_MAX: "max",
}


def _record(row: tuple) -> common_pb2.Record:
    return common_pb2.Record(json=row[0].encode(), version=row[1])


def _id(value: str) -> str:
    try:
        return check_id(value)
    except ValueError as exc:
        raise PlinthError(Code.BAD_REQUEST, f"id {exc}") from None


class RecordServicer(EdgeHandlers, rpc.RecordServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, cache: SchemaCache) -> None:
        self._pool = pool
        self._cache = cache

    async def _target(self, name: str) -> tuple[SpaceSchema, CollectionSpec]:
        space_id = current().space_id
        collection = await self._cache.collection(space_id, name)
        return await self._cache.space(space_id), collection

    async def _checked(
        self, name: str, data: bytes, *, partial: bool
    ) -> tuple[SpaceSchema, CollectionSpec, CheckedRecord]:
        """The validated body; an unknown field may be one another process just added."""
        body = decode_object(data)
        return await self._checked_with(
            name, lambda collection: check_record(collection, body, partial=partial)
        )

    async def _checked_with(self, name: str, check: Callable[[CollectionSpec], Any]):
        space, collection = await self._target(name)
        try:
            return space, collection, check(collection)
        except PlinthError as exc:
            if not any(v.reason == UNKNOWN_FIELD for v in exc.violations):
                raise
        space, collection = await self._fresh(space, name)
        return space, collection, check(collection)

    async def _fresh(self, space: SpaceSchema, name: str) -> tuple[SpaceSchema, CollectionSpec]:
        space = await self._cache.space(space.space_id, fresh=True)
        collection = space.collections.get(name)
        if collection is None:
            raise not_found(f"no collection named {name!r}")
        return space, collection

    async def _check_items(
        self, name: str, work: Batch, check: Callable[[CollectionSpec, Any], Any]
    ) -> tuple[SpaceSchema, CollectionSpec, list[Any]]:
        """Every item checked (failures kept per item); once more after a schema reload
        when an item names a field this process does not know yet."""
        space, collection = await self._target(name)
        for attempt in range(2):
            work.failures.clear()
            checked: list[Any] = []
            unknown = False
            for index, item in enumerate(work.items):
                try:
                    checked.append(check(collection, item))
                except PlinthError as exc:
                    checked.append(None)
                    work.fail(index, exc)
                    unknown |= any(v.reason == UNKNOWN_FIELD for v in exc.violations)
            if not unknown or attempt:
                break
            space, collection = await self._fresh(space, name)
        return space, collection, checked

    async def _fetchone(self, query, params) -> tuple | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def _write_one(
        self, space: SpaceSchema, collection: CollectionSpec, changes, query, params
    ) -> tuple | None:
        """A record's write statement; after its link changes, in one transaction, if any."""
        async with self._pool.connection() as conn, _transaction(conn, changes):
            return await _after_links(conn, space, collection, changes, query, params)

    async def _guarded(
        self,
        space: SpaceSchema,
        collection: CollectionSpec,
        record_id: str,
        query,
        params,
        expected: int,
        changes: list[links.LinkChange] | None = None,
    ) -> tuple:
        """A write to one live record (after its link changes, in one transaction): a miss
        is NOT_FOUND, or PRECONDITION_FAILED if stale."""
        async with self._pool.connection() as conn, _transaction(conn, changes):
            row = await _after_links(conn, space, collection, changes, query, params)
            if row is not None:
                return row
            raise await _miss(conn, space, collection, record_id, expected)

    async def CreateRecord(
        self, request: pb.CreateRecordRequest, context
    ) -> pb.CreateRecordResponse:
        space, collection, record = await self._checked(
            request.collection, request.data, partial=False
        )
        if record.links:
            record.id = record.id or new_id()  # links are written before their record
        changes = links.of_record(record.id, record) if record.links else []
        statement = writes.insert(space.schema_name, collection, record)
        row = await self._write_one(space, collection, changes, *statement)
        return pb.CreateRecordResponse(record=_record(row))

    async def GetRecord(self, request: pb.GetRecordRequest, context) -> pb.GetRecordResponse:
        space, collection = await self._target(request.collection)
        selection = plan.plan_fields(collection, list(request.fields), _options(request.relations))
        row = await self._fetchone(
            *compile.select_one(space.schema_name, collection, _id(request.id), selection)
        )
        if row is None:
            raise not_found(f"no record {request.id!r} in {collection.name!r}")
        return pb.GetRecordResponse(record=_record(row))

    async def ListRecords(self, request: pb.ListRecordsRequest, context) -> pb.ListRecordsResponse:
        space, collection = await self._target(request.collection)
        limit = plan.plan_limit(request.page_size)
        sort = plan.plan_sort(collection, [ast.Sort(s.field, s.descending) for s in request.sort])
        query = cursor.fingerprint(collection.name, request.filter, sort, request.search)
        after = None
        if request.page_token:
            if request.offset or request.page:
                raise PlinthError(Code.BAD_REQUEST, "a cursor replaces offset and page: send one")
            after = cursor.decode(request.page_token, query, len(sort) + 1)
        page = compile.Page(
            node=plan.plan_filter(collection, ast.from_proto(request.filter)),
            sort=sort,
            selection=plan.plan_fields(
                collection, list(request.fields), _options(request.relations)
            ),
            limit=limit,
            offset=plan.plan_offset(request.offset, request.page, limit),
            with_total=request.include_total,
            search=request.search,
            after=after,
            backward=request.backward,
        )
        records, has_more, keys, total = await self._fetchone(
            *compile.select_page(space.schema_name, collection, page)
        )
        positions = orjson.loads(keys) if keys else []
        if request.backward:  # fetched in reverse order: present it in sort order
            records = orjson.dumps(orjson.loads(records)[::-1]).decode()
            positions.reverse()
        answer = pb.ListRecordsResponse(
            records=records.encode(), total=total or 0, page_size=limit, has_more=has_more
        )
        if has_more and positions:
            edge = positions[0] if request.backward else positions[-1]
            answer.next_page_token = cursor.encode(edge, query)
        if request.record_cursors:
            answer.record_cursors.extend(cursor.encode(p, query) for p in positions)
        return answer

    async def CountRecords(
        self, request: pb.CountRecordsRequest, context
    ) -> pb.CountRecordsResponse:
        space, collection = await self._target(request.collection)
        node = plan.plan_filter(collection, ast.from_proto(request.filter))
        statement = compile.count(space.schema_name, collection, node, request.search)
        (total,) = await self._fetchone(*statement)
        return pb.CountRecordsResponse(count=total)

    async def AggregateRecords(
        self, request: pb.AggregateRecordsRequest, context
    ) -> pb.AggregateRecordsResponse:
        space, collection = await self._target(request.collection)
        asked = [(AGGREGATE_NAMES.get(a.function, ""), a.field or "*") for a in request.aggregates]
        statement = compile.aggregate(
            space.schema_name,
            collection,
            plan.plan_filter(collection, ast.from_proto(request.filter)),
            request.search,
            plan.plan_aggregates(collection, asked),
            plan.plan_group_by(collection, list(request.group_by)),
        )
        (groups,) = await self._fetchone(*statement)
        return pb.AggregateRecordsResponse(groups=groups.encode())

    async def ExportRecords(self, request: pb.ExportRecordsRequest, context):
        space, collection = await self._target(request.collection)
        if request.format not in EXPORT_FORMATS:
            raise PlinthError(Code.BAD_REQUEST, "format must be csv, json or ndjson")
        text, params = compile.export(
            space.schema_name,
            collection,
            plan.plan_filter(collection, ast.from_proto(request.filter)),
            request.search,
            plan.plan_sort(collection, [ast.Sort(s.field, s.descending) for s in request.sort]),
            plan.plan_fields(collection, list(request.fields)),
            csv=request.format == query_pb2.EXPORT_FORMAT_CSV,
        )
        as_array = request.format == query_pb2.EXPORT_FORMAT_JSON
        async with self._pool.connection() as conn, conn.cursor() as cur:
            async with cur.copy(text, params) as copy:
                async for chunk in export_chunks(copy, as_array):
                    yield pb.ExportRecordsResponse(chunk=chunk)

    async def UpdateRecord(
        self, request: pb.UpdateRecordRequest, context
    ) -> pb.UpdateRecordResponse:
        record_id = _id(request.id)
        body = decode_object(request.data)
        space, collection, update = await self._checked_with(
            request.collection, lambda collection: check_update(collection, body)
        )
        query = writes.patch(
            space.schema_name, collection, record_id, update, request.expected_version
        )
        changes = links.of_update(record_id, update)
        row = await self._guarded(
            space, collection, record_id, *query, request.expected_version, changes
        )
        return pb.UpdateRecordResponse(record=_record(row))

    async def ReplaceRecord(
        self, request: pb.ReplaceRecordRequest, context
    ) -> pb.ReplaceRecordResponse:
        record_id = _id(request.id)
        space, collection, record = await self._checked(
            request.collection, request.data, partial=False
        )
        if record.id not in (None, record_id):
            raise PlinthError(Code.BAD_REQUEST, "the body's id differs from the id in the path")
        # A replace sets every many_to_many field: the ones it omits become empty.
        for spec in collection.fields:
            if spec.owns_links:
                record.links.setdefault(spec.name, [])
        changes = links.of_record(record_id, record)
        if request.expected_version:
            query = writes.update(
                space.schema_name,
                collection,
                record_id,
                record,
                full=True,
                expected_version=request.expected_version,
            )
            row = await self._guarded(
                space, collection, record_id, *query, request.expected_version, changes
            )
            return pb.ReplaceRecordResponse(record=_record(row), created=False)
        statement = writes.upsert(space.schema_name, collection, record_id, record)
        row = await self._write_one(space, collection, changes, *statement)
        return pb.ReplaceRecordResponse(record=_record(row), created=row[2])

    async def DeleteRecord(
        self, request: pb.DeleteRecordRequest, context
    ) -> pb.DeleteRecordResponse:
        space, collection = await self._target(request.collection)
        record_id = _id(request.id)
        query = writes.soft_delete(
            space.schema_name, collection, record_id, request.expected_version
        )
        await self._guarded(space, collection, record_id, *query, request.expected_version)
        return pb.DeleteRecordResponse(id=record_id, deleted=True)

    # --- batches, bulk, by filter, import ---------------------------------------------

    async def _write_batch(
        self,
        work: Batch,
        statements: Callable[[], list[writes.Statement]],
        misses: batch.Misses = batch.no_misses,
        linker: batch.Linker | None = None,
    ) -> tuple[pb.BatchResult, list[tuple] | None]:
        """Write a checked batch unless an item already failed; the answer and the rows."""
        work.checked()
        rows = None
        if not work.failures:
            async with self._pool.connection() as conn:
                rows = await batch.write_all(conn, work, statements(), misses, linker)
        return work.result([row[0] for row in rows] if rows else []), rows

    async def _insert_items(
        self, collection_name: str, items: bytes, limit: int, *, upsert: bool
    ) -> pb.BatchResult:
        """Batch create (upsert=False) and bulk upsert: check every item, then one write."""
        work = Batch(batch.decode_items(items, limit))
        space, collection, records = await self._check_items(collection_name, work, _record_item)
        batch.no_duplicates(work, [_raw_id(i) for i in work.items])
        work.checked()
        texts: list[str] = []
        if not work.failures:
            for record in records:  # ids made here let one statement take many rows
                record.id = record.id or new_id()
            linker = _linker(space, collection, [links.of_record(r.id, r) for r in records])
            async with self._pool.connection() as conn:
                texts = await batch.insert_all(
                    conn, work, space.schema_name, collection, records, upsert=upsert, linker=linker
                )
        return work.result(texts)

    async def BatchCreateRecords(
        self, request: pb.BatchCreateRecordsRequest, context
    ) -> pb.BatchCreateRecordsResponse:
        result = await self._insert_items(
            request.collection, request.items, batch.MAX_BATCH, upsert=False
        )
        return pb.BatchCreateRecordsResponse(result=result)

    async def BulkUpsertRecords(
        self, request: pb.BulkUpsertRecordsRequest, context
    ) -> pb.BulkUpsertRecordsResponse:
        result = await self._insert_items(
            request.collection, request.items, batch.MAX_BULK, upsert=True
        )
        return pb.BulkUpsertRecordsResponse(result=result)

    async def BatchUpdateRecords(
        self, request: pb.BatchUpdateRecordsRequest, context
    ) -> pb.BatchUpdateRecordsResponse:
        work = Batch(batch.decode_items(request.items, batch.MAX_BATCH))
        space, collection, updates = await self._check_items(request.collection, work, _update_item)
        batch.no_duplicates(work, [_raw_id(i) for i in work.items])

        def statements() -> list[writes.Statement]:
            return [
                writes.patch(space.schema_name, collection, record_id, update, version)
                for record_id, update, version in updates
            ]

        async def misses(conn, missed: list[int]) -> dict[int, PlinthError]:
            return {
                i: await _miss(conn, space, collection, updates[i][0], updates[i][2])
                for i in missed
            }

        per_item = [links.of_update(u[0], u[1]) if u else [] for u in updates]
        linker = _linker(space, collection, per_item)
        result, _ = await self._write_batch(work, statements, misses, linker)
        return pb.BatchUpdateRecordsResponse(result=result)

    async def BatchDeleteRecords(
        self, request: pb.BatchDeleteRecordsRequest, context
    ) -> pb.BatchDeleteRecordsResponse:
        ids = list(request.ids)
        batch.check_size(len(ids), batch.MAX_BATCH)
        work = Batch(ids)
        space, collection, checked = await self._check_items(request.collection, work, _id_item)
        batch.no_duplicates(work, ids)

        async def misses(conn, missed: list[int]) -> dict[int, PlinthError]:
            return {i: not_found(f"no record {ids[i]!r} in {collection.name!r}") for i in missed}

        statements = lambda: [  # noqa: E731
            writes.soft_delete(space.schema_name, collection, i, 0) for i in checked
        ]
        work.checked()
        rows = None
        if not work.failures:
            async with self._pool.connection() as conn:
                rows = await batch.write_all(conn, work, statements(), misses)
        deleted = (
            [orjson.dumps({"id": i, "deleted": True}).decode() for i in checked] if rows else []
        )
        return pb.BatchDeleteRecordsResponse(result=work.result(deleted if rows else []))

    async def _matching(self, conn, space, collection, node) -> list[str]:
        """The ids a by-filter mutation will change, locked; over the limit changes nothing."""
        if node is None:
            raise PlinthError(Code.BAD_REQUEST, "a filter is required to change many records")
        limit = batch.MAX_BATCH_MUTATION
        cur = await conn.execute(
            *writes.lock_matching(space.schema_name, collection, node, limit + 1)
        )
        ids = [row[0] for row in await cur.fetchall()]
        if len(ids) > limit:
            raise PlinthError(
                Code.PAYLOAD_TOO_LARGE,
                f"the filter matches more than {limit} records; nothing was changed",
            )
        return ids

    async def UpdateRecordsByQuery(
        self, request: pb.UpdateRecordsByQueryRequest, context
    ) -> pb.UpdateRecordsByQueryResponse:
        body = decode_object(request.data)
        space, collection, update = await self._checked_with(
            request.collection, lambda collection: check_update(collection, body)
        )
        node = plan.plan_filter(collection, ast.from_proto(request.filter))
        async with self._pool.connection() as conn, conn.transaction():
            ids = await self._matching(conn, space, collection, node)
            if ids:
                changes = [c for i in ids for c in links.of_update(i, update)]
                await _apply_links(conn, space, collection, changes)
                cur = await conn.execute(
                    *writes.patch_many(space.schema_name, collection, update, ids)
                )
                ids = [row[0] for row in await cur.fetchall()]
        return pb.UpdateRecordsByQueryResponse(updated=len(ids), ids=ids)

    async def DeleteRecordsByQuery(
        self, request: pb.DeleteRecordsByQueryRequest, context
    ) -> pb.DeleteRecordsByQueryResponse:
        space, collection = await self._target(request.collection)
        node = plan.plan_filter(collection, ast.from_proto(request.filter))
        async with self._pool.connection() as conn, conn.transaction():
            ids = await self._matching(conn, space, collection, node)
            if ids:
                cur = await conn.execute(
                    *writes.soft_delete_many(space.schema_name, collection, ids)
                )
                ids = [row[0] for row in await cur.fetchall()]
        return pb.DeleteRecordsByQueryResponse(deleted=len(ids), ids=ids)

    async def ImportRecords(self, request_iterator, context) -> pb.ImportRecordsResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None:
            raise PlinthError(Code.BAD_REQUEST, "an import needs at least one message")
        space, collection = await self._target(first.collection)
        return await import_records(self._pool, space, collection, first, request_iterator)


def _options(relations) -> list[plan.RelationOption]:
    """The wire's per-relation options of a deep read."""
    return [
        plan.RelationOption(
            path=o.path,
            node=ast.from_proto(o.filter),
            sort=tuple(ast.Sort(s.field, s.descending) for s in o.sort),
            limit=o.limit,
            offset=o.offset,
        )
        for o in relations
    ]


def _object(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PlinthError(Code.BAD_REQUEST, "an item must be a JSON object")
    return item


def _raw_id(item: Any) -> str | None:
    """The id an item names, checked or not (to find an id given twice)."""
    key = item.get("id") if isinstance(item, dict) else None
    return key if isinstance(key, str) else None


def _record_item(collection: CollectionSpec, item: Any) -> CheckedRecord:
    return check_record(collection, _object(item), partial=False)


def _update_item(collection: CollectionSpec, item: Any) -> tuple[str, CheckedUpdate, int]:
    item = _object(item)
    unknown = set(item) - {"id", "data", "expected_version"}
    if unknown:
        raise PlinthError(
            Code.BAD_REQUEST, f"an update item has id, data and expected_version, not {unknown}"
        )
    version = item.get("expected_version") or 0
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise PlinthError(Code.BAD_REQUEST, "expected_version must be a positive integer")
    return (
        _id_item(collection, item.get("id")),
        check_update(collection, _object(item.get("data"))),
        version,
    )


def _id_item(collection: CollectionSpec, value: Any) -> str:
    try:
        return check_id(value)
    except ValueError as exc:
        raise PlinthError(Code.BAD_REQUEST, f"id {exc}") from None


def _linker(
    space: SpaceSchema, collection: CollectionSpec, per_item: list[list[links.LinkChange]]
) -> batch.Linker | None:
    """The link changes of a batch's items, with their errors by item index."""
    changes = [c for item in per_item for c in item]
    if not changes:
        return None
    index = {c.record_id: i for i, item in enumerate(per_item) for c in item}

    async def write(conn) -> dict[int, PlinthError]:
        failed = await links.apply(conn, space.schema_name, collection, changes)
        return {index[record_id]: exc for record_id, exc in failed.items()}

    return write


def _transaction(conn, changes):
    """Link changes and their record's statement commit together; a lone statement autocommits."""
    return conn.transaction() if changes else nullcontext()


async def _after_links(conn, space, collection, changes, query, params) -> tuple | None:
    """A record's statement after its link changes: its row, None when it found none."""
    if changes:
        await _apply_links(conn, space, collection, changes)
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def _apply_links(conn, space: SpaceSchema, collection: CollectionSpec, changes) -> None:
    """Link changes of one record; a missing target refuses the write (and rolls it back)."""
    failed = await links.apply(conn, space.schema_name, collection, changes)
    if failed:
        raise next(iter(failed.values()))


async def _miss(conn, space, collection, record_id: str, expected: int) -> PlinthError:
    """Why a guarded write found no row: a stale version, or no such record."""
    if expected:
        cur = await conn.execute(*writes.live_version(space.schema_name, collection, record_id))
        found = await cur.fetchone()
        if found is not None:
            return PlinthError(
                Code.PRECONDITION_FAILED,
                f"record {record_id!r} is at version {found[0]}, not {expected}",
                status=grpc.StatusCode.ABORTED,
            )
    return not_found(f"no record {record_id!r} in {collection.name!r}")
