"""What RecordService's single-record calls (core/records/service.py) and its batch,
bulk and by-filter calls (core/records/bulk_service.py) share: the servicer's state,
the collection a request names, and the link and miss helpers of a write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current
from core.errors import Code, CoreError, not_found
from core.records import links, writes
from core.records.values import UNKNOWN_FIELD, check_id
from core.schema.cache import SchemaCache
from core.schema.model import CollectionSpec, SpaceSchema


class RecordServiceBase:
    """The state of RecordServicer and the lookups of every one of its handlers."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        cache: SchemaCache,
        *,
        max_batch_mutation: int,
        import_id_buffer: int,
        restore_within_seconds: float,
    ) -> None:
        self._pool = pool
        self._cache = cache
        # Rows one update or delete by filter may change (PLINTH_MAX_BATCH_MUTATION).
        self._max_batch_mutation = max_batch_mutation
        # Rows with an id an import holds in memory (PLINTH_IMPORT_ID_BUFFER).
        self._import_id_buffer = import_id_buffer
        # How long after a soft delete RestoreRecord may undo it (PLINTH_RESTORE_WITHIN_SECONDS).
        self._restore_within = restore_within_seconds

    async def _target(self, name: str) -> tuple[SpaceSchema, CollectionSpec]:
        space_id = current().space_id
        collection = await self._cache.collection(space_id, name)
        return await self._cache.space(space_id), collection

    async def _checked_with(self, name: str, check: Callable[[CollectionSpec], Any]):
        space, collection = await self._target(name)
        try:
            return space, collection, check(collection)
        except CoreError as exc:
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


def request_id(value: Any) -> str:
    """A record id named by a request (or a batch item), checked."""
    try:
        return check_id(value)
    except ValueError as exc:
        raise CoreError(Code.BAD_REQUEST, f"id {exc}") from None


async def apply_links(conn, space: SpaceSchema, collection: CollectionSpec, changes) -> None:
    """Link changes of one record; a missing target refuses the write (and rolls it back)."""
    failed = await links.apply(conn, space.schema_name, collection, changes)
    if failed:
        raise next(iter(failed.values()))


async def miss_error(conn, space, collection, record_id: str, expected: int) -> CoreError:
    """Why a guarded write found no row: a stale version, or no such record."""
    if expected:
        cur = await conn.execute(*writes.live_version(space.schema_name, collection, record_id))
        found = await cur.fetchone()
        if found is not None:
            wanted = f"not {expected}" if expected > 0 else "which the expected version is not"
            return CoreError(
                Code.PRECONDITION_FAILED,
                f"record {record_id!r} is at version {found[0]}, {wanted}",
                status=grpc.StatusCode.ABORTED,
            )
    return not_found(f"no record {record_id!r} in {collection.name!r}")
