"""What both gateways share: one core channel per worker, and the caller's metadata."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from plinth import AsyncClient
from sanic import Request, Sanic

# Headers passed to core as gRPC metadata, unchanged.
FORWARDED_HEADERS = ("authorization", "x-api-key", "x-space", "x-on-behalf-of")


def attach_core_client(app: Sanic, core_addr: str) -> None:
    """Open the channel when the worker starts and close it when it stops."""

    @app.before_server_start
    async def open_channel(app: Sanic) -> None:
        app.ctx.core = AsyncClient(core_addr)

    @app.after_server_stop
    async def close_channel(app: Sanic) -> None:
        await app.ctx.core.close()


def _sendable(value: str) -> bool:
    """gRPC metadata values are printable ASCII; HTTP headers may carry more."""
    return value.isascii() and value.isprintable()


def request_id(request: Request) -> str:
    """The caller's X-Request-Id (when gRPC can carry it), or a new one; kept on the
    request for the response."""
    if not hasattr(request.ctx, "request_id"):
        given = request.headers.get("x-request-id", "")
        request.ctx.request_id = given if given and _sendable(given) else uuid.uuid4().hex
    return request.ctx.request_id


def core_metadata(request: Request) -> tuple[tuple[str, str], ...]:
    """The caller's credentials and request id, as core expects them. A value gRPC cannot
    carry travels percent-encoded: no key, token, space or user id looks like that, so
    core refuses it as it refuses any unknown one."""
    forwarded = [
        (h, value if _sendable(value) else quote(value, safe=""))
        for h in FORWARDED_HEADERS
        if (value := request.headers.get(h)) is not None
    ]
    return (*forwarded, ("x-request-id", request_id(request)))


async def call(request: Request, service: str, method: str, message):
    """One unary call to core on behalf of the HTTP caller ("records", "CreateRecord", …)."""
    core = request.app.ctx.core
    stub = getattr(core, service)
    return await core.call(getattr(stub, method), message, metadata=core_metadata(request))


async def key_entry(request: Request, key: str):
    """GetKey on behalf of the HTTP caller; lookups in flight together share one core call."""
    return await request.app.ctx.core.key_entry(key, metadata=core_metadata(request))


async def enqueue_job(request: Request, message):
    """Enqueue on behalf of the HTTP caller; enqueues in flight together share one core call."""
    return await request.app.ctx.core.enqueue_job(message, metadata=core_metadata(request))


async def set_entry(request: Request, message):
    """SetKey on behalf of the HTTP caller; writes in flight together share one core call."""
    return await request.app.ctx.core.set_entry(message, metadata=core_metadata(request))
