"""RecordService: one short handler per action, each one SQL statement where possible.

The single-record calls are here; relationships (named edges) are mixed in from
core/edges/service.py, batches, bulk, by-filter and import calls from
core/records/bulk_service.py, and what both record modules share is in
core/records/service_base.py."""

from __future__ import annotations

from contextlib import nullcontext

import orjson
from plinth.v1 import common_pb2, query_pb2
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import record_service_pb2_grpc as rpc

from core.edges.service import EdgeHandlers
from core.errors import Code, CoreError, Violation, not_found
from core.query import ast, compile, cursor, plan
from core.records import links, writes
from core.records.bulk_service import BulkHandlers
from core.records.export import EXPORT_FORMATS, export_chunks
from core.records.importer import new_id
from core.records.operators import check_update
from core.records.service_base import apply_links, miss_error, request_id
from core.records.values import CheckedRecord, check_record, decode_object
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


class RecordServicer(EdgeHandlers, BulkHandlers, rpc.RecordServiceServicer):
    """RecordService; built with the pool, the schema cache and the by-filter limit
    (RecordServiceBase.__init__)."""

    async def _checked(
        self, name: str, data: bytes, *, partial: bool
    ) -> tuple[SpaceSchema, CollectionSpec, CheckedRecord]:
        """The validated body; an unknown field may be one another process just added."""
        body = decode_object(data)
        return await self._checked_with(
            name, lambda collection: check_record(collection, body, partial=partial)
        )

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
            raise await miss_error(conn, space, collection, record_id, expected)

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
            *compile.select_one(space.schema_name, collection, request_id(request.id), selection)
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
                raise CoreError(Code.BAD_REQUEST, "a cursor replaces offset and page: send one")
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
            raise CoreError(Code.BAD_REQUEST, "format must be csv, json or ndjson")
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
        record_id = request_id(request.id)
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
        record_id = request_id(request.id)
        space, collection, record = await self._checked(
            request.collection, request.data, partial=False
        )
        if record.id not in (None, record_id):
            raise CoreError(Code.BAD_REQUEST, "the body's id differs from the id in the path")
        # A replace sets every many_to_many field: the ones it omits become empty.
        for spec in collection.fields:
            if spec.owns_links:
                record.links.setdefault(spec.name, [])
        changes = links.of_record(record_id, record)
        if request.expected_version or request.must_exist:
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
        record_id = request_id(request.id)
        query = writes.soft_delete(
            space.schema_name, collection, record_id, request.expected_version
        )
        await self._guarded(space, collection, record_id, *query, request.expected_version)
        return pb.DeleteRecordResponse(id=record_id, deleted=True)

    async def RestoreRecord(
        self, request: pb.RestoreRecordRequest, context
    ) -> pb.RestoreRecordResponse:
        space, collection = await self._target(request.collection)
        record_id = request_id(request.id)
        schema_name = space.schema_name
        restore = writes.restore(schema_name, collection, record_id, self._restore_within)
        dangling = writes.dangling(schema_name, collection, record_id)
        async with self._pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(*restore)).fetchone()
            if row is None:
                raise await self._not_restored(conn, space, collection, record_id)
            if dangling is not None:
                (fields,) = await (await conn.execute(*dangling)).fetchone()
                if fields:  # raised inside the transaction: the restore is undone
                    reason = "names a record that is deleted now"
                    raise CoreError(
                        Code.CONFLICT,
                        f"record {record_id!r} cannot be restored: {', '.join(fields)} {reason}",
                        [Violation(name, reason) for name in fields],
                    )
        return pb.RestoreRecordResponse(record=_record(row))

    async def _not_restored(self, conn, space, collection, record_id: str) -> CoreError:
        cur = await conn.execute(*writes.live_version(space.schema_name, collection, record_id))
        if await cur.fetchone() is not None:
            return CoreError(Code.CONFLICT, f"record {record_id!r} is not deleted")
        days = self._restore_within / 86400
        return not_found(
            f"no record {record_id!r} in {collection.name!r} deleted in the last {days:g} days"
        )


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


def _transaction(conn, changes):
    """Link changes and their record's statement commit together; a lone statement autocommits."""
    return conn.transaction() if changes else nullcontext()


async def _after_links(conn, space, collection, changes, query, params) -> tuple | None:
    """A record's statement after its link changes: its row, None when it found none."""
    if changes:
        await apply_links(conn, space, collection, changes)
    cur = await conn.execute(query, params)
    return await cur.fetchone()
