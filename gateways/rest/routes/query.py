"""Reading many records: GET /api/v1/{collection} (filters, search, sort, fields, paging,
or aggregates), GET …/count and POST …/query (the same query as a JSON body)."""

from __future__ import annotations

from plinth.v1 import record_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request
from sanic.request import RequestParameters

from gateways.core_client import call
from gateways.rest import aggregates, filters, paging, params, query_body, render

bp = Blueprint("query", url_prefix="/api/v1")


@bp.get("/<collection>")
async def list_records(request: Request, collection: str) -> HTTPResponse:
    args = params.query_args(request)
    if aggregates.requested(args):
        return await _aggregate(request, collection, args)
    message = pb.ListRecordsRequest(
        collection=collection,
        filter=filters.from_args(args),
        sort=params.sort(args),
        fields=params.csv(args, "fields"),
        search=args.get("search", ""),
    )
    return await _list(request, message, paging.from_args(args))


@bp.post("/<collection>/query")
async def query_records(request: Request, collection: str) -> HTTPResponse:
    message, page = query_body.parse(collection, request)
    return await _list(request, message, page)


@bp.get("/<collection>/count")
async def count_records(request: Request, collection: str) -> HTTPResponse:
    args = params.query_args(request)
    message = pb.CountRecordsRequest(
        collection=collection, filter=filters.from_args(args), search=args.get("search", "")
    )
    answer = await call(request, "records", "CountRecords", message)
    return render.value({"count": answer.count})


async def _list(
    request: Request, message: pb.ListRecordsRequest, page: paging.Paging
) -> HTTPResponse:
    page.apply(message)
    answer = await call(request, "records", "ListRecords", message)
    return render.data(answer.records, meta=page.meta(answer))


async def _aggregate(request: Request, collection: str, args: RequestParameters) -> HTTPResponse:
    message = pb.AggregateRecordsRequest(
        collection=collection,
        filter=filters.from_args(args),
        search=args.get("search", ""),
        aggregates=aggregates.from_args(args),
        group_by=aggregates.group_by(args),
    )
    answer = await call(request, "records", "AggregateRecords", message)
    return render.data(answer.groups)
