"""GET /api/v1/openapi.json (the space's OpenAPI 3.1 document) and GET /api/v1/docs
(the same, as a reference page)."""

from __future__ import annotations

import orjson
from plinth.v1 import schema_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request, html

from gateways.core_client import call
from gateways.rest import openapi
from gateways.rest.openapi.page import render_page

bp = Blueprint("spec", url_prefix="/api/v1")


async def _answer(request: Request) -> pb.ListCollectionsResponse:
    return await call(request, "schema", "ListCollections", pb.ListCollectionsRequest())


@bp.get("/openapi.json")
async def openapi_json(request: Request) -> HTTPResponse:
    body = openapi.rendered(await _answer(request))
    return HTTPResponse(body, content_type="application/json")


@bp.get("/docs")
async def docs(request: Request) -> HTTPResponse:
    return html(render_page(orjson.loads(openapi.rendered(await _answer(request)))))
