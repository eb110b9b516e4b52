"""Success responses: core's JSON bytes are written out without parsing them again."""

from __future__ import annotations

from typing import Any

import orjson
from sanic import HTTPResponse


def data(
    raw: bytes, *, status: int = 200, meta: dict[str, Any] | None = None, headers=None
) -> HTTPResponse:
    """{"data": <raw JSON>, "meta": {...}} around bytes core already built."""
    body = b'{"data":' + raw
    if meta is not None:
        body += b',"meta":' + orjson.dumps(meta)
    return HTTPResponse(
        body + b"}", status=status, content_type="application/json", headers=headers
    )


def value(payload: Any, *, status: int = 200) -> HTTPResponse:
    """{"data": payload} for answers the gateway assembles itself (small ones)."""
    return data(orjson.dumps(payload), status=status)
