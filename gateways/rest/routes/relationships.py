"""/api/v1/{collection}/{id}/relationships/{rel}: the named edges of a record.

Record ids in the path are percent-decoded (Sanic leaves path parameters encoded),
so `target_id` sent in a body and the same id in a path name the same record.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson
from plinth.v1 import record_service_pb2 as pb
from plinth.wire import INT32_MAX
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call
from gateways.rest import params, render
from gateways.rest.body import json_object
from gateways.rest.errors import bad_request

bp = Blueprint("relationships", url_prefix="/api/v1")

EDGES = "/<collection>/<record_id>/relationships/<rel>"
EDGE = EDGES + "/<target_id>"
DIRECTIONS = {
    "out": pb.EDGE_DIRECTION_OUT,
    "in": pb.EDGE_DIRECTION_IN,
    "both": pb.EDGE_DIRECTION_BOTH,
}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def _properties(body: dict[str, Any]) -> bytes:
    """Core decides what properties may be; absent is none (empty bytes)."""
    return orjson.dumps(body["properties"]) if "properties" in body else b""


@bp.post(EDGES)
async def create_edge(request: Request, collection: str, record_id: str, rel: str) -> HTTPResponse:
    body = json_object(request, ("target_id", "target_collection", "properties"))
    message = pb.CreateRelationshipRequest(
        collection=collection,
        id=unquote(record_id),
        rel=rel,
        target_collection=_text(body, "target_collection"),
        target_id=_text(body, "target_id"),
        properties=_properties(body),
    )
    answer = await call(request, "records", "CreateRelationship", message)
    return render.data(answer.edge, status=201)


@bp.get(EDGES)
async def list_edges(request: Request, collection: str, record_id: str, rel: str) -> HTTPResponse:
    args = params.query_args(request)
    direction = args.get("direction", "out")
    if direction not in DIRECTIONS:
        raise bad_request(f"direction must be out, in or both, not {direction!r}")
    message = pb.ListRelationshipsRequest(
        collection=collection,
        id=unquote(record_id),
        rel=rel,
        direction=DIRECTIONS[direction],
        page_size=params.integer(args, "limit", 1, INT32_MAX) or 0,
    )
    answer = await call(request, "records", "ListRelationships", message)
    return render.data(answer.edges)


def _edge(request: Request, collection: str, record_id: str, rel: str, target_id: str) -> dict:
    """The fields naming one edge in an update or delete."""
    return {
        "collection": collection,
        "id": unquote(record_id),
        "rel": rel,
        "target_collection": request.args.get("target_collection", ""),
        "target_id": unquote(target_id),
    }


@bp.patch(EDGE)
async def update_edge(request: Request, **path: str) -> HTTPResponse:
    body = json_object(request, ("properties",))
    if "properties" not in body:
        raise bad_request('the body must be {"properties": {…}}')
    message = pb.UpdateRelationshipRequest(**_edge(request, **path), properties=_properties(body))
    answer = await call(request, "records", "UpdateRelationship", message)
    return render.data(answer.edge)


@bp.delete(EDGE)
async def delete_edge(request: Request, **path: str) -> HTTPResponse:
    message = pb.DeleteRelationshipRequest(**_edge(request, **path))
    answer = await call(request, "records", "DeleteRelationship", message)
    return render.value({"deleted": answer.deleted})
