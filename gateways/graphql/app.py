"""The GraphQL gateway: Tartiflette on Sanic. HTTP in, gRPC to core, GraphQL answers out."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from plinth import PlinthError
from sanic import HTTPResponse, Request, Sanic, html, json, text

from core.config import Settings
from gateways.core_client import attach_core_client, core_metadata, request_id
from gateways.graphql import errors, operation, records
from gateways.graphql.engines import Engines
from gateways.graphql.graphiql import PAGE
from gateways.graphql.operation import Operation
from gateways.graphql.resolvers import RequestContext


def create_app(settings: Settings, name: str = "plinth-graphql") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    attach_core_client(app, settings.core_addr)
    app.ctx.engines = Engines()
    app.error_handler.add(Exception, errors.handle)

    @app.on_response
    async def add_request_id(request: Request, response: HTTPResponse) -> None:
        response.headers["X-Request-Id"] = request_id(request)

    app.add_route(graphql_post, "/graphql", methods=["POST"])
    app.add_route(graphql_get, "/graphql", methods=["GET"])
    app.add_route(schema_sdl, "/graphql/schema.graphql", methods=["GET"])
    app.add_route(healthz, "/healthz", methods=["GET"])
    app.add_route(readyz, "/readyz", methods=["GET"])
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


async def healthz(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


async def readyz(request: Request) -> HTTPResponse:
    """Ready when core answers and reaches its database."""
    core = request.app.ctx.core
    check = health_pb2_grpc.HealthStub(core.channel).Check
    answer = await core.call(
        check, health_pb2.HealthCheckRequest(), metadata=core_metadata(request), timeout=3
    )
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        raise PlinthError("UNAVAILABLE", "core cannot reach its database")
    return json({"status": "ok"})
