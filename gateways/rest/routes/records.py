"""/api/v1/{collection}: records CRUD, list with filters, sort, fields and paging."""

from __future__ import annotations

import math

from plinth.v1 import record_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call
from gateways.rest import params, render

bp = Blueprint("records", url_prefix="/api/v1")


@bp.get("/<collection>")
async def list_records(request: Request, collection: str) -> HTTPResponse:
    limit = params.integer(request, "limit", 1) or 0
    page = params.integer(request, "page", 1)
    offset = params.integer(request, "offset", 0)
    message = pb.ListRecordsRequest(
        collection=collection,
        filter=params.bracket_filter(request),
        sort=params.sort(request),
        fields=params.csv(request, "fields"),
        page_size=limit,
        include_total=True,
    )
    if page is not None:
        message.page = page
    elif offset is not None:
        message.offset = offset
    answer = await call(request, "records", "ListRecords", message)
    size = answer.page_size
    meta = {
        "total": answer.total,
        "page": page or message.offset // size + 1,
        "limit": size,
        "pages": math.ceil(answer.total / size),
    }
    return render.data(answer.records, meta=meta)


@bp.get("/<collection>/count")
async def count_records(request: Request, collection: str) -> HTTPResponse:
    message = pb.CountRecordsRequest(collection=collection, filter=params.bracket_filter(request))
    answer = await call(request, "records", "CountRecords", message)
    return render.value({"count": answer.count})


@bp.post("/<collection>")
async def create_record(request: Request, collection: str) -> HTTPResponse:
    answer = await call(
        request,
        "records",
        "CreateRecord",
        pb.CreateRecordRequest(collection=collection, data=request.body),
    )
    return render.data(
        answer.record.json, status=201, headers={"ETag": params.etag(answer.record.version)}
    )


@bp.get("/<collection>/<record_id>")
async def get_record(request: Request, collection: str, record_id: str) -> HTTPResponse:
    message = pb.GetRecordRequest(
        collection=collection, id=record_id, fields=params.csv(request, "fields")
    )
    answer = await call(request, "records", "GetRecord", message)
    return render.data(answer.record.json, headers={"ETag": params.etag(answer.record.version)})


@bp.patch("/<collection>/<record_id>")
async def update_record(request: Request, collection: str, record_id: str) -> HTTPResponse:
    message = pb.UpdateRecordRequest(
        collection=collection,
        id=record_id,
        data=request.body,
        expected_version=params.if_match(request),
    )
    answer = await call(request, "records", "UpdateRecord", message)
    return render.data(answer.record.json, headers={"ETag": params.etag(answer.record.version)})


@bp.put("/<collection>/<record_id>")
async def replace_record(request: Request, collection: str, record_id: str) -> HTTPResponse:
    message = pb.ReplaceRecordRequest(
        collection=collection,
        id=record_id,
        data=request.body,
        expected_version=params.if_match(request),
    )
    answer = await call(request, "records", "ReplaceRecord", message)
    return render.data(
        answer.record.json,
        status=201 if answer.created else 200,
        headers={"ETag": params.etag(answer.record.version)},
    )


@bp.delete("/<collection>/<record_id>")
async def delete_record(request: Request, collection: str, record_id: str) -> HTTPResponse:
    message = pb.DeleteRecordRequest(
        collection=collection, id=record_id, expected_version=params.if_match(request)
    )
    answer = await call(request, "records", "DeleteRecord", message)
    return render.value({"id": answer.id, "deleted": answer.deleted})
