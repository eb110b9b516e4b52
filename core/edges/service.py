"""The relationship (named edge) calls of RecordService."""

from __future__ import annotations

from dataclasses import replace

from plinth.v1 import record_service_pb2 as pb

from core.auth.principal import current
from core.edges import store
from core.edges.store import IN, OUT, EdgeKey
from core.errors import Code, CoreError, Violation, bad_request, conflict, not_found
from core.records.values import check_id, decode_object
from core.schema.model import NAME_RE

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DIRECTIONS = {
    pb.EDGE_DIRECTION_UNSPECIFIED: (OUT,),
    pb.EDGE_DIRECTION_OUT: (OUT,),
    pb.EDGE_DIRECTION_IN: (IN,),
    pb.EDGE_DIRECTION_BOTH: (OUT, IN),
}


def check_rel(rel: str) -> str:
    if not NAME_RE.fullmatch(rel):
        raise bad_request(f"rel must match {NAME_RE.pattern}, not {rel!r}")
    return rel


def check_properties(data: bytes) -> str:
    """The properties as the JSON text of an object; no bytes mean {}."""
    if not data:
        return "{}"
    try:
        decode_object(data)
    except CoreError:
        raise bad_request("properties must be a JSON object") from None
    if b"\\u0000" in data:
        raise bad_request("properties must not contain \\u0000 (Postgres jsonb cannot hold it)")
    return data.decode()  # the text as sent: Postgres keeps every number exactly


def check_page_size(size: int) -> int:
    if size < 0 or size > MAX_PAGE_SIZE:
        raise bad_request(f"the page size (limit) must be 1 to {MAX_PAGE_SIZE}")
    return size or DEFAULT_PAGE_SIZE


def _id(name: str, value: str) -> str:
    try:
        return check_id(value)
    except ValueError as exc:
        raise bad_request(f"{name} {exc}") from None


def _not_created(key: EdgeKey, source_live: bool, target_live: bool) -> CoreError:
    if not source_live:
        return not_found(f"no record {key.source_id!r} in {key.source_collection!r}")
    if not target_live:
        reason = f"no record {key.target_id!r} in {key.target_collection!r}"
        return CoreError(
            Code.VALIDATION_ERROR,
            f"invalid edge: target_id: {reason}",
            [Violation("target_id", reason)],
        )
    return conflict(f"{key.source_id!r} already has a {key.rel!r} edge to {key.target_id!r}")


def _no_edge(key: EdgeKey) -> CoreError:
    return not_found(f"no {key.rel!r} edge from {key.source_id!r} to {key.target_id!r}")


class EdgeHandlers:
    """Mixed into RecordServicer, whose `_cache` and `_fetchone` it uses."""

    async def _schema_name(self, *collections: str) -> str:
        """The caller's space schema, once each named collection is known to exist."""
        space_id = current().space_id
        for name in collections:
            await self._cache.collection(space_id, name)
        return (await self._cache.space(space_id)).schema_name

    async def _edge(self, request) -> tuple[str, EdgeKey]:
        """The space schema and the one edge a create names (in the source's collection
        unless it names target_collection)."""
        key = EdgeKey(
            rel=check_rel(request.rel),
            source_collection=request.collection,
            source_id=_id("id", request.id),
            target_collection=request.target_collection or request.collection,
            target_id=_id("target_id", request.target_id),
        )
        return await self._schema_name(key.source_collection, key.target_collection), key

    async def _existing_edge(self, request) -> tuple[str, EdgeKey]:
        """The one edge an update or delete names. Without target_collection, that is the
        only edge with this rel, source and target id, in whichever collection."""
        schema_name, key = await self._edge(request)
        if request.target_collection:
            return schema_name, key
        (found,) = await self._fetchone(*store.target_collections(schema_name, key))
        if not found:
            raise _no_edge(key)
        if len(found) > 1:
            raise bad_request(
                f"{key.source_id!r} has {key.rel!r} edges to {key.target_id!r} in more than"
                f" one collection ({', '.join(found)}, …): name its target_collection"
            )
        return schema_name, replace(key, target_collection=found[0])

    async def _write(self, request, statement, edge) -> tuple[str, EdgeKey, tuple | None]:
        """A create or update: the schema, the edge, and the row written (None: a miss)."""
        schema_name, key = await edge(request)
        properties = check_properties(request.properties)
        return schema_name, key, await self._fetchone(*statement(schema_name, key, properties))

    async def CreateRelationship(
        self, request: pb.CreateRelationshipRequest, context
    ) -> pb.CreateRelationshipResponse:
        schema_name, key, row = await self._write(request, store.insert, self._edge)
        if row is None:
            raise _not_created(key, *await self._fetchone(*store.ends_live(schema_name, key)))
        return pb.CreateRelationshipResponse(edge=row[0].encode())

    async def ListRelationships(
        self, request: pb.ListRelationshipsRequest, context
    ) -> pb.ListRelationshipsResponse:
        directions = DIRECTIONS.get(request.direction)
        if directions is None:
            raise bad_request(f"direction must be out, in or both, not {request.direction}")
        rel = check_rel(request.rel)
        record_id = _id("id", request.id)
        limit = check_page_size(request.page_size)
        schema_name = await self._schema_name(request.collection)
        live, edges = await self._fetchone(
            *store.list_edges(schema_name, request.collection, record_id, rel, directions, limit)
        )
        if not live:
            raise not_found(f"no record {record_id!r} in {request.collection!r}")
        return pb.ListRelationshipsResponse(edges=edges.encode())

    async def UpdateRelationship(
        self, request: pb.UpdateRelationshipRequest, context
    ) -> pb.UpdateRelationshipResponse:
        _, key, row = await self._write(request, store.merge_properties, self._existing_edge)
        if row is None:
            raise _no_edge(key)
        return pb.UpdateRelationshipResponse(edge=row[0].encode())

    async def DeleteRelationship(
        self, request: pb.DeleteRelationshipRequest, context
    ) -> pb.DeleteRelationshipResponse:
        schema_name, key = await self._existing_edge(request)
        if await self._fetchone(*store.delete(schema_name, key)) is None:
            raise _no_edge(key)
        return pb.DeleteRelationshipResponse(deleted=True)
