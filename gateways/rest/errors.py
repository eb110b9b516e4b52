"""The API.md error envelope, from core errors and from Sanic's own exceptions."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from plinth import PlinthError
from sanic import HTTPResponse, Request
from sanic.exceptions import SanicException

from gateways.core_client import request_id

log = logging.getLogger("plinth.rest")

HTTP_STATUS = {
    "VALIDATION_ERROR": 400,
    "BAD_REQUEST": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "PRECONDITION_FAILED": 412,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
}

_FROM_HTTP = {
    404: "NOT_FOUND",
    413: "PAYLOAD_TOO_LARGE",
    401: "UNAUTHENTICATED",
    503: "UNAVAILABLE",
}


def envelope(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
) -> HTTPResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or [],
            "request_id": request_id(request),
        }
    }
    return HTTPResponse(
        orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers={"X-Request-Id": request_id(request)},
    )


def bad_request(message: str) -> PlinthError:
    """A mistake in the HTTP request itself (parameters, headers, malformed body)."""
    return PlinthError("BAD_REQUEST", message)


async def handle(request: Request, exc: Exception) -> HTTPResponse:
    if isinstance(exc, PlinthError):
        return envelope(request, HTTP_STATUS.get(exc.code, 500), exc.code, exc.message, exc.details)
    if isinstance(exc, SanicException) and exc.status_code < 500:
        status = exc.status_code
        code = _FROM_HTTP.get(status, "BAD_REQUEST")
        message = str(exc) or "bad request"
        if status == 404:
            message = f"no route for {request.method} {request.path}"
        return envelope(request, status, code, message)
    log.exception("internal error (request id %s)", request_id(request))
    return envelope(request, 500, "INTERNAL", f"internal error (request id {request_id(request)})")
