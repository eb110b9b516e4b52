"""API codes <-> HTTP statuses, as API.md's table gives them."""

from __future__ import annotations

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

# Sanic's own 4xx exceptions (unknown route, body too large, …) -> API codes.
CODE_OF_HTTP = {401: "UNAUTHENTICATED", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE"}


def code_of(status: int) -> str:
    return CODE_OF_HTTP.get(status, "BAD_REQUEST")


def internal_message(request_id: str) -> str:
    """What a caller sees of a fault, and what the logs say of it: no internals."""
    return f"internal error (request id {request_id})"
