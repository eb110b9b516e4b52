"""SchemaService: collections and fields of the caller's space."""

from __future__ import annotations

import grpc
from plinth.v1 import schema_service_pb2 as pb
from plinth.v1 import schema_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current, require_admin
from core.errors import not_found
from core.schema import changes
from core.schema.cache import SchemaCache
from core.schema.model import FieldSpec
from core.schema.wire import (
    collection_from_proto,
    collection_to_proto,
    field_from_proto,
    field_to_proto,
    mode_from_proto,
)


class SchemaServicer(rpc.SchemaServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, cache: SchemaCache) -> None:
        self._pool = pool
        self._cache = cache

    async def _change(self, action: str, apply, *args):
        """Run one schema change in a transaction, then drop this process's cached copy."""
        principal = require_admin(action)
        async with self._pool.connection() as conn, conn.transaction():
            result = await apply(conn, principal.space_id, *args)
        self._cache.invalidate(principal.space_id)
        return result

    async def ListCollections(
        self, request: pb.ListCollectionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCollectionsResponse:
        space = await self._cache.space(current().space_id)
        if request.known_version and request.known_version == space.version:
            return pb.ListCollectionsResponse(
                schema_version=space.version, not_modified=True, space_id=space.space_id
            )
        return pb.ListCollectionsResponse(
            collections=[
                collection_to_proto(c)
                for c in sorted(space.collections.values(), key=lambda c: c.name)
            ],
            schema_version=space.version,
            space_id=space.space_id,
        )

    async def GetCollection(
        self, request: pb.GetCollectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCollectionResponse:
        found = await self._cache.collection(current().space_id, request.name)
        return pb.GetCollectionResponse(collection=collection_to_proto(found))

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCollectionResponse:
        spec = collection_from_proto(request.collection)
        created = await self._change("schema.create", changes.create_collection, spec)
        return pb.CreateCollectionResponse(collection=collection_to_proto(created))

    async def UpdateCollection(
        self, request: pb.UpdateCollectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateCollectionResponse:
        mode = mode_from_proto(request.mode)
        updated = await self._change("schema.update", changes.set_mode, request.name, mode)
        return pb.UpdateCollectionResponse(collection=collection_to_proto(updated))

    async def DeleteCollection(
        self, request: pb.DeleteCollectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteCollectionResponse:
        await self._change("schema.delete", changes.delete_collection, request.name)
        return pb.DeleteCollectionResponse()

    async def AddField(
        self, request: pb.AddFieldRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddFieldResponse:
        spec = field_from_proto(request.field)
        updated = await self._change("schema.update", changes.add_field, request.collection, spec)
        return pb.AddFieldResponse(collection=collection_to_proto(updated))

    async def UpdateField(
        self, request: pb.UpdateFieldRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateFieldResponse:
        new = await self._merged_field(request)
        updated = await self._change(
            "schema.update", changes.update_field, request.collection, request.name, new
        )
        return pb.UpdateFieldResponse(collection=collection_to_proto(updated))

    async def DeleteField(
        self, request: pb.DeleteFieldRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteFieldResponse:
        updated = await self._change(
            "schema.update", changes.delete_field, request.collection, request.name
        )
        return pb.DeleteFieldResponse(collection=collection_to_proto(updated))

    async def _merged_field(self, request: pb.UpdateFieldRequest) -> FieldSpec:
        """The new definition: the masked paths of request.field over the current one."""
        if not request.update_mask.paths:
            return field_from_proto(request.field)
        collection = await self._cache.collection(current().space_id, request.collection)
        old = collection.by_name.get(request.name)
        if old is None:
            raise not_found(f"no field named {request.name!r} in {request.collection!r}")
        merged = field_to_proto(old)
        request.update_mask.MergeMessage(request.field, merged, replace_repeated_field=True)
        if "default" in request.update_mask.paths and not request.field.HasField("default"):
            merged.ClearField("default")
        return field_from_proto(merged)
