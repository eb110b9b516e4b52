"""The REST gateway: HTTP in, gRPC to core, the API.md envelopes out. No business rules."""

from __future__ import annotations

from sanic import HTTPResponse, Request, Sanic

from core.config import Settings
from gateways.core_client import attach_core_client, request_id
from gateways.rest import errors
from gateways.rest.routes import health, records, schema


def create_app(settings: Settings, name: str = "plinth-rest") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.config.FALLBACK_ERROR_FORMAT = "json"
    attach_core_client(app, settings.core_addr)
    app.error_handler.add(Exception, errors.handle)
    # Static routes (schema, health) are matched before /api/v1/<collection>.
    app.blueprint(health.bp)
    app.blueprint(schema.bp)
    app.blueprint(records.bp)

    @app.on_response
    async def add_request_id(request: Request, response: HTTPResponse) -> None:
        response.headers["X-Request-Id"] = request_id(request)

    return app
