"""The body of POST /api/v1/{collection}/query -> a ListRecordsRequest and its paging.

{"where": {…}, "sort": ["-price"], "fields": ["id", "name"], "search": "lamp",
 "limit": 20, "page": 2 | "offset": 40 | "cursor": "" (the first page) | "…", "meta": "total"}
Every key is optional, and null is the same as absent.
"""

from __future__ import annotations

from typing import Any

from plinth.client import sort_keys
from plinth.v1 import record_service_pb2 as pb
from sanic import Request

from gateways.rest import filters, paging
from gateways.rest.body import json_object
from gateways.rest.errors import bad_request

KEYS = ("where", "sort", "fields", "search", "limit", "page", "offset", "cursor", "meta")


def parse(collection: str, request: Request) -> tuple[pb.ListRecordsRequest, paging.Paging]:
    """An empty body is an empty query: every record, first page."""
    body = json_object(request, KEYS)
    where = body.get("where")
    search = body.get("search")
    if search is not None and not isinstance(search, str):
        raise bad_request("search must be a string")
    message = pb.ListRecordsRequest(
        collection=collection,
        filter=filters.where({} if where is None else where),
        sort=sort_keys(_names(body, "sort")),
        fields=_names(body, "fields"),
        search=search or "",
    )
    return message, paging.from_body(body)


def _names(body: dict[str, Any], key: str) -> list[str]:
    """A list of names, or one comma-separated string as in the query string."""
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise bad_request(f'{key} must be a list of field names, like ["name", "-price"]')
    return [name.strip() for name in value if name.strip()]
