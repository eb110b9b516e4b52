"""/api/v1/kv: the key-value store of the caller's space.

Keys may contain `/` and `:`: the routes take the rest of the path as the key
and percent-decodes it, so `GET /api/v1/kv/user:1/settings` reads the key
`user:1/settings`. `POST …/incr` and `…/decr` take the last segment as the
action. Percent-encode `?`, `#`, `%`, spaces and a trailing or doubled `/`
(`%2F`) in keys.
"""

from __future__ import annotations

from urllib.parse import unquote

import orjson
from plinth.v1 import kv_service_pb2 as pb
from plinth.wire import INT32_MAX, INT64_MAX, INT64_MIN
from sanic import Blueprint, HTTPResponse, Request
from sanic.exceptions import MethodNotAllowed

from gateways.core_client import call, key_entry, set_entry
from gateways.rest import params, render
from gateways.rest.body import integer, json_object
from gateways.rest.errors import bad_request

bp = Blueprint("kv", url_prefix="/api/v1/kv")


def _entry(entry: pb.KeyValueEntry) -> bytes:
    """{"key", "value", "expires_at"} with the value's JSON bytes copied as they are."""
    expires = entry.expires_at.ToJsonString() if entry.HasField("expires_at") else None
    return (
        b'{"key":'
        + orjson.dumps(entry.key)
        + b',"value":'
        + entry.value
        + b',"expires_at":'
        + orjson.dumps(expires)
        + b"}"
    )


@bp.get("")
async def list_keys(request: Request) -> HTTPResponse:
    args = params.query_args(request)
    message = pb.ListKeysRequest(
        prefix=args.get("prefix", ""),
        page_size=params.integer(args, "limit", 1, INT32_MAX) or 0,
        page_token=args.get("cursor", ""),
    )
    answer = await call(request, "kv", "ListKeys", message)
    body = b"[" + b",".join(_entry(e) for e in answer.entries) + b"]"
    meta = {
        "limit": answer.page_size,
        "has_more": bool(answer.next_page_token),
        "next_cursor": answer.next_page_token or None,
    }
    return render.data(body, meta=meta)


async def get_key(request: Request, key: str) -> HTTPResponse:
    return render.data(_entry(await key_entry(request, key)))


async def set_key(request: Request, key: str) -> HTTPResponse:
    ttl = params.integer(params.query_args(request), "ttl", 0, INT64_MAX)
    message = pb.SetKeyRequest(key=key, value=request.body, ttl_ms=ttl or 0)
    return render.data(_entry(await set_entry(request, message)))


async def delete_key(request: Request, key: str) -> HTTPResponse:
    answer = await call(request, "kv", "DeleteKey", pb.DeleteKeyRequest(key=key))
    return render.value({"key": answer.key, "deleted": answer.deleted})


async def increment_key(request: Request, key: str, action: str) -> HTTPResponse:
    if action not in ("incr", "decr") or not key:
        raise MethodNotAllowed(
            "POST takes /api/v1/kv/{key}/incr or /api/v1/kv/{key}/decr",
            "POST",
            ["GET", "PUT", "DELETE"],
        )
    by = _by(request)
    message = pb.IncrementKeyRequest(key=key, by=-by if action == "decr" else by)
    answer = await call(request, "kv", "IncrementKey", message)
    return render.data(b'{"key":' + orjson.dumps(answer.key) + b',"value":' + answer.value + b"}")


def _by(request: Request) -> int:
    """`{"by": n}` (an integer; 1 when the body or `by` is absent). Any int64 but the
    lowest, so that decr can negate it."""
    by = integer(json_object(request, ("by",)), "by", 1)
    if not INT64_MIN < by <= INT64_MAX:
        raise bad_request("by is out of the 64-bit range")
    return by


_BY_METHOD = {"GET": get_key, "PUT": set_key, "DELETE": delete_key}


async def by_key(request: Request, **segments: str) -> HTTPResponse:
    """Every /api/v1/kv/{key} route: the segments joined are the key, percent-decoded
    (Sanic leaves path parameters encoded). POST takes the last segment as the action."""
    parts = "/".join(segments[name] for name in sorted(segments)).split("/")
    if request.method == "POST":
        *parts, action = parts
        return await increment_key(request, unquote("/".join(parts)), action)
    return await _BY_METHOD[request.method](request, unquote("/".join(parts)))


# Sanic tries a `path` parameter only after every other route, so `/api/v1/{collection}/{id}`
# (and longer record routes) would take `/api/v1/kv/{key}` for keys of a few segments.
# Routes of 1 to MAX_SEGMENTS plain segments keep the static `kv` segment first; longer keys
# fall through to the `path` route, which no record route can match.
MAX_SEGMENTS = 6
_METHODS = ["GET", "PUT", "DELETE", "POST"]
for _count in range(1, MAX_SEGMENTS + 1):
    _uri = "".join(f"/<s{n}>" for n in range(_count))
    bp.add_route(by_key, _uri, methods=_METHODS, name=f"kv_key_{_count}")
bp.add_route(by_key, "/<s:path>", methods=_METHODS, name="kv_key_path")
