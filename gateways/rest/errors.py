"""The API.md error envelope, from core errors and from Sanic's own exceptions."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from plinth import PlinthError
from sanic import HTTPResponse, Request
from sanic.exceptions import SanicException

from gateways.core_client import request_id
from gateways.http_status import HTTP_STATUS, code_of, internal_message

log = logging.getLogger("plinth.rest")


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
        code = code_of(status)
        message = str(exc) or "bad request"
        if status == 404:
            message = f"no route for {request.method} {request.path}"
        return envelope(request, status, code, message)
    log.exception(internal_message(request_id(request)))
    return envelope(request, 500, "INTERNAL", internal_message(request_id(request)))
