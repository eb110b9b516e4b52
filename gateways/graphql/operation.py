"""The GraphQL-over-HTTP request parameters, from a POST JSON body or a GET query string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from plinth import PlinthError
from sanic import Request


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


def from_body(request: Request) -> Operation:
    try:
        body = orjson.loads(request.body or b"")
    except orjson.JSONDecodeError as exc:
        raise _bad(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _bad('the body must be a JSON object: {"query": "...", "variables": {...}}')
    return _operation(body.get("query"), body.get("variables"), body.get("operationName"))


def from_query_string(request: Request) -> Operation:
    variables = request.args.get("variables")
    if variables:
        try:
            variables = orjson.loads(variables)
        except orjson.JSONDecodeError as exc:
            raise _bad(f"variables is not valid JSON: {exc}") from None
    return _operation(request.args.get("query"), variables, request.args.get("operationName"))


def _operation(query: Any, variables: Any, operation_name: Any) -> Operation:
    if not isinstance(query, str) or not query.strip():
        raise _bad("query is missing: send the GraphQL document as `query`")
    if variables is not None and not isinstance(variables, dict):
        raise _bad("variables must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _bad("operationName must be a string")
    return Operation(query, variables or None, operation_name or None)


def _bad(message: str) -> PlinthError:
    return PlinthError("BAD_REQUEST", message)
