"""GraphQL batch mutations: batchCreate{T}, batchUpdate{T}, batchDelete{T}.

Core answers a batch in the shape of API.md; here it is renamed for GraphQL. A batch
with failed items is an ordinary answer (nothing written, `failed` says why), not a
GraphQL error, so a client sees every item's error at once. Core answers related records
as ids; when `successful` reads related records, the written records are read again with
them in one ListRecords call.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
from plinth.v1 import record_service_pb2 as pb

from gateways.graphql import records
from gateways.graphql.model import Collection
from gateways.graphql.reads import Read, read
from gateways.graphql.selection import selected
from gateways.graphql.where import to_filter

BATCH_SDL = (
    '"""Why one item of a batch failed (codes as in the REST API)."""\n'
    "type BatchError {\n  code: String!\n  message: String!\n  field: String\n}\n",
    '"""A failed item of a batch: its position in the input, from 0."""\n'
    "type BatchFailure {\n  index: Int!\n  error: BatchError!\n}\n",
    '"""The answer of a batch delete; when an item fails nothing is deleted."""\n'
    "type BatchDeleteResult {\n  successful: [DeleteResult!]!\n  failed: [BatchFailure!]!\n"
    "  totalCount: Int!\n  successCount: Int!\n  failureCount: Int!\n}\n",
)


def collection_sdl(c: Collection) -> list[str]:
    t = c.type_name
    blocks = [
        f'"""The answer of a batch of `{c.name}` writes; when an item fails nothing is'
        ' written."""\n'
        f"type {t}BatchResult {{\n  successful: [{t}!]!\n  failed: [BatchFailure!]!\n"
        "  totalCount: Int!\n  successCount: Int!\n  failureCount: Int!\n}\n"
    ]
    if c.writable:
        blocks.append(f"input {t}BatchUpdateInput {{\n  id: ID!\n  data: {t}UpdateInput!\n}}\n")
    return blocks


def mutation_lines(c: Collection) -> list[str]:
    t = c.type_name
    lines = [
        f"batchCreate{t}(input: [{t}CreateInput!]!): {t}BatchResult!",
        f"batchDelete{t}(ids: [ID!]!): BatchDeleteResult!",
    ]
    if c.writable:
        lines.append(f"batchUpdate{t}(input: [{t}BatchUpdateInput!]!): {t}BatchResult!")
    return lines


def _answer(result: pb.BatchResult, c: Collection, with_records: bool) -> dict[str, Any]:
    if c.exact_decimals:
        body = json.loads(result.json, parse_float=Decimal)
    else:
        body = orjson.loads(result.json)
    names = c.graphql_names
    successful = body["successful"]
    if with_records:
        successful = [records.renamed(r, c) for r in successful]
    failed = [
        {
            "index": f["index"],
            "error": {**f["error"], "field": names.get(f["error"]["field"], f["error"]["field"])},
        }
        for f in body["failed"]
    ]
    return {
        "successful": successful,
        "failed": failed,
        "totalCount": body["total_count"],
        "successCount": body["success_count"],
        "failureCount": body["failure_count"],
    }


async def _reading(c: Collection, info: Any) -> Read:
    """What `successful` reads (checked before anything is written)."""
    return await read(info, c, selected(info).get("successful", ()))


async def _records_answer(
    c: Collection, result: pb.BatchResult, reading: Read, ctx: Any
) -> dict[str, Any]:
    answer = _answer(result, c, True)
    if reading.deep and answer["successful"]:
        answer["successful"] = await _read_again(c, answer["successful"], reading, ctx)
    return answer


async def _read_again(c: Collection, written: list[Any], reading: Read, ctx: Any) -> list[Any]:
    """The written records with their related records, in the order written."""
    ids = [r["id"] for r in written]
    request = pb.ListRecordsRequest(
        collection=c.name,
        filter=to_filter({"id": {"in": ids}}, c),
        fields=reading.fields,
        relations=reading.relations,
        page_size=len(ids),
    )
    answer = await ctx.call_records("ListRecords", request)
    found = {r["id"]: r for r in records.decode(answer.records, c, reading.exact)}
    return [found[i] for i in ids if i in found]


def resolvers(c: Collection):
    async def create(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
        ctx.check_writable()
        reading = await _reading(c, info)
        items = b"[" + b",".join(records.encode(i, c) for i in args["input"]) + b"]"
        message = pb.BatchCreateRecordsRequest(collection=c.name, items=items)
        answer = await ctx.call_records("BatchCreateRecords", message)
        return await _records_answer(c, answer.result, reading, ctx)

    async def update(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
        ctx.check_writable()
        reading = await _reading(c, info)
        items = [
            b'{"id":' + orjson.dumps(i["id"]) + b',"data":' + records.encode(i["data"], c) + b"}"
            for i in args["input"]
        ]
        message = pb.BatchUpdateRecordsRequest(
            collection=c.name, items=b"[" + b",".join(items) + b"]"
        )
        answer = await ctx.call_records("BatchUpdateRecords", message)
        return await _records_answer(c, answer.result, reading, ctx)

    async def delete(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
        ctx.check_writable()
        message = pb.BatchDeleteRecordsRequest(collection=c.name, ids=args["ids"])
        answer = await ctx.call_records("BatchDeleteRecords", message)
        return _answer(answer.result, c, False)

    return create, update, delete
