"""A gateway's Prometheus metrics at GET /metrics: requests by route, method and status,
and their latency. Each Sanic worker process counts its own requests."""

from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sanic import HTTPResponse, Request, Sanic

log = logging.getLogger("plinth.http")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30)
REQUESTS = Counter("plinth_http_requests", "HTTP requests answered", ["route", "method", "code"])
SECONDS = Histogram(
    "plinth_http_request_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=LATENCY_BUCKETS,
)


def attach_metrics(app: Sanic) -> None:
    app.add_route(metrics, "/metrics", methods=["GET"])

    @app.on_request
    async def started(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    @app.on_response
    async def counted(request: Request, response: HTTPResponse) -> None:
        began = getattr(request.ctx, "started", None)
        if began is None:
            return
        # The route's pattern, not the path: one series per route, whatever the ids.
        route = request.route.path if request.route else "unmatched"
        seconds = time.perf_counter() - began
        REQUESTS.labels(route, request.method, str(response.status)).inc()
        SECONDS.labels(route).observe(seconds)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %d in %.1f ms", request.method, request.path, response.status, seconds * 1000
            )


async def metrics(request: Request) -> HTTPResponse:
    return HTTPResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
