"""Resolvers: each root field is one core call made with the caller's metadata.

They are registered programmatically under the schema name of the engine
being built, because Tartiflette keeps resolvers in a global registry keyed
by schema name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from plinth import PlinthError
from plinth.v1 import record_service_pb2 as pb
from sanic import Request
from tartiflette import Resolver
from tartiflette.resolver.default import default_field_resolver

from gateways.core_client import call
from gateways.graphql import aggregate, batch, connection, records
from gateways.graphql.model import Collection, Model
from gateways.graphql.reads import Read, read
from gateways.graphql.static_fields import STATIC_FIELDS
from gateways.graphql.where import to_filter, to_sort

ResolverFn = Callable[[Any, dict[str, Any], "RequestContext", Any], Awaitable[Any]]


@dataclass(frozen=True)
class RequestContext:
    """What resolvers need of the HTTP request (the `ctx` argument)."""

    request: Request
    allow_mutations: bool  # GET requests may only read

    async def call_records(self, rpc: str, message: Any) -> Any:
        """One RecordService call as the caller."""
        return await call(self.request, "records", rpc, message)

    def check_writable(self) -> None:
        if not self.allow_mutations:
            raise PlinthError("BAD_REQUEST", "mutations must be sent with POST")


async def resolve_field(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    """The default resolver. Records are dicts read by key: Tartiflette's own default
    tries attributes first, so a field named `values` or `items` would read a dict method."""
    if isinstance(parent, dict):
        return parent.get(info.field_name)
    return await default_field_resolver(parent, args, ctx, info)


def register_resolvers(model: Model, schema_version: int, schema_name: str) -> None:
    def on(field: str, resolver: ResolverFn) -> None:
        Resolver(field, schema_name=schema_name)(resolver)

    async def version(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> int:
        return schema_version

    on("Query._schemaVersion", version)
    for static in STATIC_FIELDS:
        on(f"{static.root}.{static.name}", static.resolve)
    for c in model.collections:
        t = c.type_name
        on(f"Query.{c.root}", _list(c))
        on(f"Query.{c.root}ById", _by_id(c))
        on(f"Query.{c.root}Count", _count(c))
        on(f"Query.{c.root}Aggregate", _bound(aggregate.resolve, c))
        on(f"Query.{c.root}Connection", _bound(connection.resolve, c))
        on(f"Mutation.create{t}", _write(c, "CreateRecord", pb.CreateRecordRequest))
        on(f"Mutation.replace{t}", _write(c, "ReplaceRecord", pb.ReplaceRecordRequest))
        on(f"Mutation.delete{t}", _delete(c))
        on(f"Mutation.restore{t}", _write(c, "RestoreRecord", pb.RestoreRecordRequest))
        if c.writable:
            on(f"Mutation.update{t}", _write(c, "UpdateRecord", pb.UpdateRecordRequest))
        batch_create, batch_update, batch_delete = batch.resolvers(c)
        on(f"Mutation.batchCreate{t}", batch_create)
        on(f"Mutation.batchDelete{t}", batch_delete)
        if c.writable:
            on(f"Mutation.batchUpdate{t}", batch_update)


def _bound(resolve: Callable[..., Awaitable[Any]], c: Collection) -> ResolverFn:
    async def resolver(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> Any:
        return await resolve(c, args, ctx, info)

    return resolver


def _list(c: Collection) -> ResolverFn:
    async def resolve(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> Any:
        if args.get("limit") == 0:
            return []  # core reads a page size of 0 as "the default"
        reading = await read(info, c, info.field_nodes)
        request = pb.ListRecordsRequest(
            collection=c.name,
            filter=to_filter(args.get("where"), c),
            sort=to_sort(args, c),
            fields=reading.fields,
            relations=reading.relations,
            page_size=args.get("limit") or 0,
            offset=args.get("offset") or 0,
        )
        answer = await ctx.call_records("ListRecords", request)
        return records.decode(answer.records, c, reading.exact)

    return resolve


def _by_id(c: Collection) -> ResolverFn:
    async def resolve(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> Any:
        try:
            return await _get(c, args["id"], await read(info, c, info.field_nodes), ctx)
        except PlinthError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise

    return resolve


async def _get(c: Collection, record_id: str, reading: Read, ctx: RequestContext) -> Any:
    request = pb.GetRecordRequest(
        collection=c.name, id=record_id, fields=reading.fields, relations=reading.relations
    )
    answer = await ctx.call_records("GetRecord", request)
    return records.decode(answer.record.json, c, reading.exact)


def _count(c: Collection) -> ResolverFn:
    async def resolve(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> Any:
        request = pb.CountRecordsRequest(collection=c.name, filter=to_filter(args.get("where"), c))
        return (await ctx.call_records("CountRecords", request)).count

    return resolve


def _write(c: Collection, rpc: str, message: type) -> ResolverFn:
    """create / update / replace / restore: the input (if any) as a JSON body, the written
    record back.

    Writes answer related records as ids; when the selection reads related records, the
    written record is read again with them (a second core call)."""

    async def resolve(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> Any:
        ctx.check_writable()
        reading = await read(info, c, info.field_nodes)  # a bad selection writes nothing
        given = {"id": args["id"]} if "id" in args else {}
        if "input" in args:
            given["data"] = records.encode(args["input"], c)
        request = message(collection=c.name, **given)
        try:
            answer = await ctx.call_records(rpc, request)
        except PlinthError as exc:
            raise _with_graphql_fields(exc, c) from None
        written = records.decode(answer.record.json, c)
        if not reading.deep:
            return written
        return await _get(c, written["id"], reading, ctx)

    return resolve


def _with_graphql_fields(exc: PlinthError, c: Collection) -> PlinthError:
    """The error with its field violations named as the client named the fields."""
    details = [
        {**d, "field": c.graphql_names.get(d["field"], d["field"])} if "field" in d else d
        for d in exc.details
    ]
    return PlinthError(exc.code, exc.message, details, exc.grpc_code)


def _delete(c: Collection) -> ResolverFn:
    async def resolve(parent: Any, args: dict[str, Any], ctx: RequestContext, info: Any) -> Any:
        ctx.check_writable()
        request = pb.DeleteRecordRequest(collection=c.name, id=args["id"])
        answer = await ctx.call_records("DeleteRecord", request)
        return {"id": answer.id, "deleted": answer.deleted}

    return resolve
