"""The one reader of JSON request bodies that carry parameters (not record data).

A null member means "not given", as generated clients send every optional field: it
is dropped here, so each route sees only what the caller set.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sanic import Request

from gateways.rest.errors import bad_request


def json_value(request: Request) -> Any:
    """The body as JSON; an empty body is None."""
    raw = request.body or b""
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON body: {exc}") from None


def integer(body: dict[str, Any], name: str, default: int = 0) -> int:
    """An integer member; a number with no fraction (3.0) is that integer, as JSON
    Schema and most JSON encoders have it."""
    value = body.get(name, default)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer, not {value!r}")
    return value


def json_object(request: Request, allowed: Collection[str] | None = None) -> dict[str, Any]:
    """The body's JSON object without its null members; an empty body is {}. With
    `allowed`, any other key is a 400 that lists the allowed ones."""
    value = json_value(request)
    if value is None:
        return {}
    if not isinstance(value, dict):
        example = f" with some of: {', '.join(allowed)}" if allowed else ""
        raise bad_request(f"the body must be a JSON object{example}")
    if allowed is not None and (unknown := sorted(set(value) - set(allowed))):
        raise bad_request(f"unknown keys {unknown} in the body; use some of: {', '.join(allowed)}")
    return {key: item for key, item in value.items() if item is not None}


def text_member(body: dict[str, Any], name: str) -> str:
    """A string member of a parameter body; "" when absent."""
    value = body.get(name, "")
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    return value
