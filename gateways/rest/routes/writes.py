"""Writes of many records: batches, bulk upsert, update and delete by filter, and the
streamed import. Core builds every answer; this only renders it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from plinth.formats import FORMATS, IMPORT_MODES
from plinth.v1 import record_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call, core_metadata, request_id
from gateways.rest import filters, params, render
from gateways.rest.body import json_object
from gateways.rest.errors import bad_request

bp = Blueprint("writes", url_prefix="/api/v1")

# An import is streamed to core as it arrives, so the body limit does not apply.
IMPORT_TIMEOUT_SECONDS = 3600
BATCH_TIMEOUT_SECONDS = 120


def _list(request: Request, key: str) -> list[Any]:
    value = json_object(request, (key,)).get(key)
    if not isinstance(value, list):
        raise bad_request(f'the body must be {{"{key}": [...]}}')
    return value


def _items(request: Request) -> bytes:
    return orjson.dumps(_list(request, "items"))


def render_result(request: Request, result: pb.BatchResult) -> HTTPResponse:
    """200 with core's answer, or 400 with the error beside it when items failed."""
    if not result.failure_count:
        return render.data(result.json)
    error = {
        "code": "VALIDATION_ERROR",
        "message": result.error_message,
        "details": [],
        "request_id": request_id(request),
    }
    body = b'{"data":' + result.json + b',"error":' + orjson.dumps(error) + b"}"
    return HTTPResponse(body, status=400, content_type="application/json")


async def _batch(request: Request, rpc: str, message: Any) -> HTTPResponse:
    core = request.app.ctx.core
    answer = await core.call(
        getattr(core.records, rpc),
        message,
        metadata=core_metadata(request),
        timeout=BATCH_TIMEOUT_SECONDS,
    )
    return render_result(request, answer.result)


@bp.post("/<collection>/batch")
async def batch_create(request: Request, collection: str) -> HTTPResponse:
    message = pb.BatchCreateRecordsRequest(collection=collection, items=_items(request))
    return await _batch(request, "BatchCreateRecords", message)


@bp.patch("/<collection>/batch")
async def batch_update(request: Request, collection: str) -> HTTPResponse:
    message = pb.BatchUpdateRecordsRequest(collection=collection, items=_items(request))
    return await _batch(request, "BatchUpdateRecords", message)


@bp.delete("/<collection>/batch", ignore_body=False)
async def batch_delete(request: Request, collection: str) -> HTTPResponse:
    ids = _list(request, "ids")
    if not all(isinstance(i, str) for i in ids):
        raise bad_request("ids must be strings")
    message = pb.BatchDeleteRecordsRequest(collection=collection, ids=ids)
    return await _batch(request, "BatchDeleteRecords", message)


@bp.post("/<collection>/bulk")
async def bulk_upsert(request: Request, collection: str) -> HTTPResponse:
    message = pb.BulkUpsertRecordsRequest(collection=collection, items=_items(request))
    return await _batch(request, "BulkUpsertRecords", message)


@bp.patch("/<collection>")
async def update_by_filter(request: Request, collection: str) -> HTTPResponse:
    message = pb.UpdateRecordsByQueryRequest(
        collection=collection,
        filter=filters.from_args(params.query_args(request)),
        data=request.body,
    )
    answer = await call(request, "records", "UpdateRecordsByQuery", message)
    return render.value({"updated": answer.updated, "ids": list(answer.ids)})


@bp.delete("/<collection>")
async def delete_by_filter(request: Request, collection: str) -> HTTPResponse:
    message = pb.DeleteRecordsByQueryRequest(
        collection=collection, filter=filters.from_args(params.query_args(request))
    )
    answer = await call(request, "records", "DeleteRecordsByQuery", message)
    return render.value({"deleted": answer.deleted, "ids": list(answer.ids)})


@bp.post("/<collection>/import", stream=True)
async def import_records(request: Request, collection: str) -> HTTPResponse:
    args = params.query_args(request)
    name = args.get("format") or "ndjson"
    mode = args.get("mode") or "all_or_nothing"
    if name not in FORMATS:
        raise bad_request(f"unknown format {name!r}; use one of: {', '.join(FORMATS)}")
    if mode not in IMPORT_MODES:
        raise bad_request(f"unknown mode {mode!r}; use one of: {', '.join(IMPORT_MODES)}")
    request.stream.request_max_size = float("inf")

    async def messages() -> AsyncIterator[pb.ImportRecordsRequest]:
        yield pb.ImportRecordsRequest(
            collection=collection, format=FORMATS[name], mode=IMPORT_MODES[mode]
        )
        while (chunk := await request.stream.read()) is not None:
            yield pb.ImportRecordsRequest(chunk=chunk)

    core = request.app.ctx.core
    answer = await core.call(
        core.records.ImportRecords,
        messages(),
        metadata=core_metadata(request),
        timeout=IMPORT_TIMEOUT_SECONDS,
    )
    data = {
        "inserted": answer.inserted,
        "updated": answer.updated,
        "rejected": answer.rejected,
        "rejected_rows": orjson.Fragment(answer.rejected_rows or b"[]"),
        "committed": answer.committed,
    }
    if answer.committed or not answer.rejected:
        return render.value(data)
    error = {
        "code": "VALIDATION_ERROR",
        "message": f"{answer.rejected} rows were rejected; nothing was written",
        "details": [],
        "request_id": request_id(request),
    }
    return HTTPResponse(
        orjson.dumps({"data": data, "error": error}), status=400, content_type="application/json"
    )
