"""/api/v1/{collection} and /api/v1/{collection}/{id}: one record at a time."""

from __future__ import annotations

from plinth.v1 import record_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call
from gateways.rest import params, render

bp = Blueprint("records", url_prefix="/api/v1")


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
        collection=collection, id=record_id, fields=params.csv(request.args, "fields")
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
        must_exist=params.if_match_any(request),
    )
    answer = await call(request, "records", "ReplaceRecord", message)
    return render.data(
        answer.record.json,
        status=201 if answer.created else 200,
        headers={"ETag": params.etag(answer.record.version)},
    )


@bp.post("/<collection>/<record_id>/restore")
async def restore_record(request: Request, collection: str, record_id: str) -> HTTPResponse:
    message = pb.RestoreRecordRequest(collection=collection, id=record_id)
    answer = await call(request, "records", "RestoreRecord", message)
    return render.data(answer.record.json, headers={"ETag": params.etag(answer.record.version)})


@bp.delete("/<collection>/<record_id>")
async def delete_record(request: Request, collection: str, record_id: str) -> HTTPResponse:
    message = pb.DeleteRecordRequest(
        collection=collection, id=record_id, expected_version=params.if_match(request)
    )
    answer = await call(request, "records", "DeleteRecord", message)
    return render.value({"id": answer.id, "deleted": answer.deleted})
