"""The GraphQL gateway: Tartiflette on Sanic. HTTP in, gRPC to core, GraphQL answers out."""

from __future__ import annotations

from sanic import HTTPResponse, Request, Sanic, html, text

from gateways.app_base import new_app
from gateways.config import GatewayConfig
from gateways.core_client import request_id
from gateways.graphql import errors, operation, records
from gateways.graphql.engines import Engines
from gateways.graphql.graphiql import PAGE
from gateways.graphql.operation import Operation
from gateways.graphql.resolvers import RequestContext


def create_app(config: GatewayConfig, name: str = "plinth-graphql") -> Sanic:
    app = new_app(name, config, errors.handle)
    app.ctx.engines = Engines()
    app.add_route(graphql_post, "/graphql", methods=["POST"])
    app.add_route(graphql_get, "/graphql", methods=["GET"])
    app.add_route(schema_sdl, "/graphql/schema.graphql", methods=["GET"])
    return app


async def graphql_post(request: Request) -> HTTPResponse:
    return await _execute(request, operation.from_body(request), allow_mutations=True)


async def graphql_get(request: Request) -> HTTPResponse:
    """GraphiQL for browsers; otherwise `?query=` runs, read-only."""
    if "text/html" in request.headers.get("accept", ""):
        return html(PAGE)
    return await _execute(request, operation.from_query_string(request), allow_mutations=False)


async def schema_sdl(request: Request) -> HTTPResponse:
    built = await request.app.ctx.engines.for_request(request)
    return text(built.sdl)


async def _execute(request: Request, op: Operation, *, allow_mutations: bool) -> HTTPResponse:
    built = await request.app.ctx.engines.for_request(request)
    errors.executing_request.set(request_id(request))
    result = await built.engine.execute(
        op.query,
        operation_name=op.operation_name,
        variables=op.variables,
        context=RequestContext(request, allow_mutations),
    )
    return HTTPResponse(records.dumps(result), content_type="application/json")
