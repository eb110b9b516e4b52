"""The Sanic set-up both gateways share: limits, the core channel, errors,
X-Request-Id on every response, and the health routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from grpc_health.v1 import health_pb2, health_pb2_grpc
from plinth import PlinthError
from sanic import HTTPResponse, Request, Sanic, json

from gateways.config import GatewayConfig
from gateways.core_client import attach_core_client, core_metadata, request_id
from gateways.metrics import attach_metrics

ErrorHandler = Callable[[Request, Exception], Awaitable[HTTPResponse]]


def new_app(name: str, config: GatewayConfig, on_error: ErrorHandler) -> Sanic:
    # The process's logging (plain or JSON) is the launcher's, for Sanic's lines too.
    app = Sanic(name, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = config.max_body_bytes
    attach_core_client(app, config.core_addr)
    app.error_handler.add(Exception, on_error)
    app.add_route(healthz, "/healthz", methods=["GET"])
    app.add_route(readyz, "/readyz", methods=["GET"])
    attach_metrics(app)

    @app.on_request
    async def note_request_id(request: Request) -> None:
        request_id(request)  # also the log lines' request id

    @app.on_response
    async def add_request_id(request: Request, response: HTTPResponse) -> None:
        response.headers["X-Request-Id"] = request_id(request)

    return app


async def healthz(request: Request) -> HTTPResponse:
    """The process is up."""
    return json({"status": "ok"})


async def readyz(request: Request) -> HTTPResponse:
    """Ready when core answers and core reaches its database."""
    core = request.app.ctx.core
    stub = health_pb2_grpc.HealthStub(core.channel)
    answer = await core.call(
        stub.Check, health_pb2.HealthCheckRequest(), metadata=core_metadata(request), timeout=3
    )
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        raise PlinthError("UNAVAILABLE", "core cannot reach its database")
    return json({"status": "ok"})
