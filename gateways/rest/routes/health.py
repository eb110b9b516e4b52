"""Liveness and readiness."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from plinth import PlinthError
from sanic import Blueprint, HTTPResponse, Request, json

from gateways.core_client import core_metadata

bp = Blueprint("health")


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/readyz")
async def readyz(request: Request) -> HTTPResponse:
    """Ready when core answers and core reaches the database."""
    core = request.app.ctx.core
    stub = health_pb2_grpc.HealthStub(core.channel)
    answer = await core.call(
        stub.Check, health_pb2.HealthCheckRequest(), metadata=core_metadata(request), timeout=3
    )
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        raise PlinthError("UNAVAILABLE", "core cannot reach the database")
    return json({"status": "ok"})
