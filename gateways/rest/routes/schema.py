"""/api/v1/schema: collections and their fields."""

from __future__ import annotations

from google.protobuf import field_mask_pb2
from plinth.v1 import schema_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call
from gateways.rest import render
from gateways.rest.body import json_object, json_value
from gateways.rest.errors import bad_request
from gateways.rest.schema_json import (
    collection_from_json,
    collection_to_json,
    field_from_json,
    mode_from_json,
)

bp = Blueprint("schema", url_prefix="/api/v1/schema")


@bp.get("/collections")
async def list_collections(request: Request) -> HTTPResponse:
    answer = await call(request, "schema", "ListCollections", pb.ListCollectionsRequest())
    return render.value([collection_to_json(c) for c in answer.collections])


@bp.post("/collections")
async def create_collection(request: Request) -> HTTPResponse:
    collection = collection_from_json(json_object(request))
    answer = await call(
        request, "schema", "CreateCollection", pb.CreateCollectionRequest(collection=collection)
    )
    return render.value(collection_to_json(answer.collection), status=201)


@bp.get("/collections/<name>")
async def get_collection(request: Request, name: str) -> HTTPResponse:
    answer = await call(request, "schema", "GetCollection", pb.GetCollectionRequest(name=name))
    return render.value(collection_to_json(answer.collection))


@bp.patch("/collections/<name>")
async def update_collection(request: Request, name: str) -> HTTPResponse:
    body = json_object(request)
    if set(body) - {"mode", "name"} or body.get("name", name) != name:
        raise bad_request("only the mode of a collection can be changed here")
    if "mode" not in body:
        raise bad_request('send the mode to change, e.g. {"mode": "flexible"}')
    message = pb.UpdateCollectionRequest(name=name, mode=mode_from_json(body.get("mode")))
    answer = await call(request, "schema", "UpdateCollection", message)
    return render.value(collection_to_json(answer.collection))


@bp.delete("/collections/<name>")
async def delete_collection(request: Request, name: str) -> HTTPResponse:
    await call(request, "schema", "DeleteCollection", pb.DeleteCollectionRequest(name=name))
    return render.value({"name": name, "deleted": True})


@bp.post("/collections/<name>/fields")
async def add_field(request: Request, name: str) -> HTTPResponse:
    message = pb.AddFieldRequest(collection=name, field=field_from_json(json_object(request)))
    answer = await call(request, "schema", "AddField", message)
    return render.value(collection_to_json(answer.collection), status=201)


@bp.patch("/collections/<name>/fields/<field>")
async def update_field(request: Request, name: str, field: str) -> HTTPResponse:
    body = json_value(request)  # a PATCH: null clears a setting
    if not isinstance(body, dict) or not body:
        raise bad_request('send the settings to change, e.g. {"required": true}')
    message = pb.UpdateFieldRequest(
        collection=name,
        name=field,
        field=field_from_json({"name": field, **body}),
        update_mask=field_mask_pb2.FieldMask(paths=sorted(body)),
    )
    answer = await call(request, "schema", "UpdateField", message)
    return render.value(collection_to_json(answer.collection))


@bp.delete("/collections/<name>/fields/<field>")
async def delete_field(request: Request, name: str, field: str) -> HTTPResponse:
    answer = await call(
        request, "schema", "DeleteField", pb.DeleteFieldRequest(collection=name, name=field)
    )
    return render.value(collection_to_json(answer.collection))
