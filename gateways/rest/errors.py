"""The API.md error envelope, from core errors and from Sanic's own exceptions."""

from __future__ import annotations

import contextlib
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
    headers: dict[str, str] | None = None,
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
        headers={**(headers or {}), "X-Request-Id": request_id(request)},
    )


def bad_request(message: str) -> PlinthError:
    """A mistake in the HTTP request itself (parameters, headers, malformed body)."""
    return PlinthError("BAD_REQUEST", message)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route takes at the request's path (RFC 9110: a 405 says them)."""
    allowed = []
    for method in METHODS:
        with contextlib.suppress(SanicException):
            request.app.router.get(request.path, method, request.headers.get("host"))
            allowed.append(method)
    return allowed


async def handle(request: Request, exc: Exception) -> HTTPResponse:
    if isinstance(exc, PlinthError):
        return envelope(request, HTTP_STATUS.get(exc.code, 500), exc.code, exc.message, exc.details)
    if isinstance(exc, SanicException) and exc.status_code < 500:
        status = exc.status_code
        code = code_of(status)
        message = str(exc) or "bad request"
        if status == 404:
            message = f"no route for {request.method} {request.path}"
        headers = dict(exc.headers or {})
        if status == 405 and "Allow" not in headers:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return envelope(request, status, code, message, headers=headers)
    log.exception(internal_message(request_id(request)))
    return envelope(request, 500, "INTERNAL", internal_message(request_id(request)))
