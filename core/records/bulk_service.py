"""The batch, bulk, by-filter and import calls of RecordService (their answers and
their one write: core/records/batch.py; imports: core/records/importer.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from plinth.v1 import record_service_pb2 as pb

from core.errors import Code, CoreError, not_found
from core.query import ast, plan
from core.records import batch, links, writes
from core.records.batch import Batch
from core.records.importer import import_records, new_id
from core.records.operators import CheckedUpdate, check_update
from core.records.service_base import (
    RecordServiceBase,
    apply_links,
    miss_error,
    request_id,
)
from core.records.values import UNKNOWN_FIELD, CheckedRecord, check_record, decode_object
from core.schema.model import CollectionSpec, SpaceSchema


class BulkHandlers(RecordServiceBase):
    """Mixed into RecordServicer: the calls that check and write many records at once."""

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
                except CoreError as exc:
                    checked.append(None)
                    work.fail(index, exc)
                    unknown |= any(v.reason == UNKNOWN_FIELD for v in exc.violations)
            if not unknown or attempt:
                break
            space, collection = await self._fresh(space, name)
        return space, collection, checked

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

        async def misses(conn, missed: list[int]) -> dict[int, CoreError]:
            return {
                i: await miss_error(conn, space, collection, updates[i][0], updates[i][2])
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

        async def misses(conn, missed: list[int]) -> dict[int, CoreError]:
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
            raise CoreError(Code.BAD_REQUEST, "a filter is required to change many records")
        limit = self._max_batch_mutation
        cur = await conn.execute(
            *writes.lock_matching(space.schema_name, collection, node, limit + 1)
        )
        ids = [row[0] for row in await cur.fetchall()]
        if len(ids) > limit:
            raise CoreError(
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
                await apply_links(conn, space, collection, changes)
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
            raise CoreError(Code.BAD_REQUEST, "an import needs at least one message")
        space, collection = await self._target(first.collection)
        return await import_records(
            self._pool, space, collection, first, request_iterator, self._import_id_buffer
        )


def _object(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise CoreError(Code.BAD_REQUEST, "an item must be a JSON object")
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
        raise CoreError(
            Code.BAD_REQUEST, f"an update item has id, data and expected_version, not {unknown}"
        )
    version = item.get("expected_version") or 0
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise CoreError(Code.BAD_REQUEST, "expected_version must be a positive integer")
    return (
        _id_item(collection, item.get("id")),
        check_update(collection, _object(item.get("data"))),
        version,
    )


def _id_item(collection: CollectionSpec, value: Any) -> str:
    return request_id(value)


def _linker(
    space: SpaceSchema, collection: CollectionSpec, per_item: list[list[links.LinkChange]]
) -> batch.Linker | None:
    """The link changes of a batch's items, with their errors by item index."""
    changes = [c for item in per_item for c in item]
    if not changes:
        return None
    index = {c.record_id: i for i, item in enumerate(per_item) for c in item}

    async def write(conn) -> dict[int, CoreError]:
        failed = await links.apply(conn, space.schema_name, collection, changes)
        return {index[record_id]: exc for record_id, exc in failed.items()}

    return write
