"""RecordService: one short handler per action, each one SQL statement where possible."""

from __future__ import annotations

import grpc
from plinth.v1 import common_pb2
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import record_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current
from core.errors import Code, PlinthError, not_found
from core.query import ast, compile, plan
from core.records import writes
from core.records.values import (
    UNKNOWN_FIELD,
    CheckedRecord,
    check_id,
    check_record,
    decode_object,
)
from core.schema.cache import SchemaCache
from core.schema.model import CollectionSpec, SpaceSchema


def _record(row: tuple) -> common_pb2.Record:
    return common_pb2.Record(json=row[0].encode(), version=row[1])


def _id(value: str) -> str:
    try:
        return check_id(value)
    except ValueError as exc:
        raise PlinthError(Code.BAD_REQUEST, f"id {exc}") from None


class RecordServicer(rpc.RecordServiceServicer):
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
        space, collection = await self._target(name)
        try:
            return space, collection, check_record(collection, body, partial=partial)
        except PlinthError as exc:
            if not any(v.reason == UNKNOWN_FIELD for v in exc.violations):
                raise
        space = await self._cache.space(space.space_id, fresh=True)
        collection = space.collections.get(name)
        if collection is None:
            raise not_found(f"no collection named {name!r}")
        return space, collection, check_record(collection, body, partial=partial)

    async def _fetchone(self, query, params) -> tuple | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def _guarded(
        self,
        space: SpaceSchema,
        collection: CollectionSpec,
        record_id: str,
        query,
        params,
        expected: int,
    ) -> tuple:
        """A write to one live record: a miss is NOT_FOUND, or PRECONDITION_FAILED if stale."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
            if row is not None:
                return row
            if expected:
                cur = await conn.execute(
                    *writes.live_version(space.schema_name, collection, record_id)
                )
                found = await cur.fetchone()
                if found is not None:
                    raise PlinthError(
                        Code.PRECONDITION_FAILED,
                        f"record {record_id!r} is at version {found[0]}, not {expected}",
                        status=grpc.StatusCode.ABORTED,
                    )
        raise not_found(f"no record {record_id!r} in {collection.name!r}")

    async def CreateRecord(
        self, request: pb.CreateRecordRequest, context
    ) -> pb.CreateRecordResponse:
        space, collection, record = await self._checked(
            request.collection, request.data, partial=False
        )
        row = await self._fetchone(*writes.insert(space.schema_name, collection, record))
        return pb.CreateRecordResponse(record=_record(row))

    async def GetRecord(self, request: pb.GetRecordRequest, context) -> pb.GetRecordResponse:
        space, collection = await self._target(request.collection)
        selection = plan.plan_fields(collection, list(request.fields))
        row = await self._fetchone(
            *compile.select_one(space.schema_name, collection, _id(request.id), selection)
        )
        if row is None:
            raise not_found(f"no record {request.id!r} in {collection.name!r}")
        return pb.GetRecordResponse(record=_record(row))

    async def ListRecords(self, request: pb.ListRecordsRequest, context) -> pb.ListRecordsResponse:
        space, collection = await self._target(request.collection)
        limit = plan.plan_limit(request.page_size)
        query = compile.select_page(
            space.schema_name,
            collection,
            plan.plan_filter(collection, ast.from_proto(request.filter)),
            plan.plan_sort(collection, [ast.Sort(s.field, s.descending) for s in request.sort]),
            plan.plan_fields(collection, list(request.fields)),
            limit,
            plan.plan_offset(request.offset, request.page, limit),
            request.include_total,
        )
        records, total = await self._fetchone(*query)
        return pb.ListRecordsResponse(records=records.encode(), total=total or 0, page_size=limit)

    async def CountRecords(
        self, request: pb.CountRecordsRequest, context
    ) -> pb.CountRecordsResponse:
        space, collection = await self._target(request.collection)
        node = plan.plan_filter(collection, ast.from_proto(request.filter))
        (total,) = await self._fetchone(*compile.count(space.schema_name, collection, node))
        return pb.CountRecordsResponse(count=total)

    async def UpdateRecord(
        self, request: pb.UpdateRecordRequest, context
    ) -> pb.UpdateRecordResponse:
        record_id = _id(request.id)
        space, collection, record = await self._checked(
            request.collection, request.data, partial=True
        )
        query = writes.update(
            space.schema_name,
            collection,
            record_id,
            record,
            full=False,
            expected_version=request.expected_version,
        )
        row = await self._guarded(space, collection, record_id, *query, request.expected_version)
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
                space, collection, record_id, *query, request.expected_version
            )
            return pb.ReplaceRecordResponse(record=_record(row), created=False)
        row = await self._fetchone(*writes.upsert(space.schema_name, collection, record_id, record))
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
