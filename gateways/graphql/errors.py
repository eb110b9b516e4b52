"""GraphQL errors with `extensions.code` (the API.md codes), in answers and HTTP failures.

An error raised while a request executes stays in the HTTP 200 answer's
`errors`; a request that cannot execute at all (bad body, bad credentials,
core unreachable) gets the HTTP status of its code and the same error shape.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

import orjson
from plinth import PlinthError
from sanic import HTTPResponse, Request
from sanic.exceptions import SanicException
from tartiflette.coercers.common import CoercionError

from gateways.core_client import request_id
from gateways.http_status import HTTP_STATUS, code_of, internal_message

log = logging.getLogger("plinth.graphql")

# The request being executed, for log lines written while Tartiflette coerces errors.
executing_request: ContextVar[str] = ContextVar("plinth_graphql_request", default="-")


def extensions(code: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"code": code, "details": details} if details else {"code": code}


async def coerce_error(exception: Exception, coerced: dict[str, Any]) -> dict[str, Any]:
    """Tartiflette's error coercer: every error leaves with an API code.

    Core's errors keep their code and details; errors Tartiflette raises about
    the document or the variables are the caller's (BAD_REQUEST); anything
    else is a fault here, logged and answered without internals.
    """
    original = getattr(exception, "original_error", None)
    if isinstance(original, PlinthError):
        code, message, details = original.code, original.message, original.details
    elif original is None or isinstance(exception, CoercionError):
        code, message, details = "BAD_REQUEST", coerced["message"], None
    else:
        request = executing_request.get()
        log.error(internal_message(request), exc_info=original)
        code, message, details = "INTERNAL", internal_message(request), None
    answer: dict[str, Any] = {"message": message}
    for key in ("locations", "path"):
        if coerced.get(key):
            answer[key] = coerced[key]
    answer["extensions"] = extensions(code, details)
    return answer


def response(code: str, message: str, details: list[dict[str, Any]] | None = None) -> HTTPResponse:
    """A request that did not execute: `{"errors": [...]}` with the code's HTTP status."""
    return HTTPResponse(
        orjson.dumps({"errors": [{"message": message, "extensions": extensions(code, details)}]}),
        status=HTTP_STATUS.get(code, 500),
        content_type="application/json",
    )


async def handle(request: Request, exc: Exception) -> HTTPResponse:
    """Sanic's error handler, for everything raised outside query execution."""
    if isinstance(exc, PlinthError):
        return response(exc.code, exc.message, exc.details)
    if isinstance(exc, SanicException) and exc.status_code < 500:
        code = code_of(exc.status_code)
        answer = response(code, str(exc) or "bad request")
        answer.status = exc.status_code
        return answer
    log.exception(internal_message(request_id(request)))
    return response("INTERNAL", internal_message(request_id(request)))
