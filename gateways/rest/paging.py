"""Offset and cursor paging of a list, from the query string or a query body, and its meta.

The presence of `cursor` (empty: the first page) selects cursor paging (in a body,
`"cursor": null` is the same as no cursor); without it, `page` or `offset` page by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from plinth.v1 import record_service_pb2 as pb
from plinth.wire import INT32_MAX, INT64_MAX
from sanic.request import RequestParameters

from gateways.rest import params
from gateways.rest.body import integer
from gateways.rest.errors import bad_request


@dataclass(frozen=True)
class Paging:
    limit: int | None = None
    page: int | None = None
    offset: int | None = None
    cursor: str | None = None  # None: offset paging; "": the first page of cursor paging
    total: bool = False  # meta=total: also count every match in cursor paging

    def __post_init__(self) -> None:
        if self.cursor is not None and (self.page is not None or self.offset is not None):
            raise bad_request(
                "cursor cannot be combined with page or offset; use one way of paging"
            )

    def apply(self, message: pb.ListRecordsRequest) -> None:
        message.page_size = self.limit or 0
        if self.cursor is not None:
            message.page_token = self.cursor
            message.include_total = self.total
        else:
            message.include_total = True
            if self.page is not None:
                message.page = self.page
            elif self.offset is not None:
                message.offset = self.offset

    def meta(self, answer: pb.ListRecordsResponse) -> dict[str, Any]:
        size = answer.page_size
        if self.cursor is not None:
            meta: dict[str, Any] = {
                "limit": size,
                "has_more": answer.has_more,
                "next_cursor": answer.next_page_token if answer.has_more else None,
            }
            if self.total:
                meta["total"] = answer.total
            return meta
        return {
            "total": answer.total,
            "page": self.page or (self.offset or 0) // size + 1,
            "limit": size,
            "pages": math.ceil(answer.total / size),
        }


def from_args(args: RequestParameters) -> Paging:
    return Paging(
        limit=params.integer(args, "limit", 1, INT32_MAX),
        page=params.integer(args, "page", 1, INT32_MAX),
        offset=params.integer(args, "offset", 0, INT64_MAX),
        cursor=args.get("cursor") if "cursor" in args else None,
        total=wants_total(args.getlist("meta")),
    )


def from_body(body: dict[str, Any]) -> Paging:
    """{"limit": 20, "page": 2} / {"offset": 40} / {"cursor": "" | "…"}, "meta": "total"
    (null members already dropped: they mean not given)."""
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise bad_request('cursor must be a string: a next_cursor, or "" for the first page')
    meta = body.get("meta")
    if meta is not None and not isinstance(meta, str):
        raise bad_request('meta must be a string, like "total"')
    return Paging(
        limit=_body_integer(body, "limit", 1, INT32_MAX),
        page=_body_integer(body, "page", 1, INT32_MAX),
        offset=_body_integer(body, "offset", 0, INT64_MAX),
        cursor=cursor,
        total=wants_total([meta] if meta else []),
    )


def wants_total(values: list[str]) -> bool:
    """meta=total; the only meta that is optional (offset paging always has it)."""
    names = {part.strip() for text in values for part in text.split(",") if part.strip()}
    if names - {"total"}:
        raise bad_request(f"unknown meta {sorted(names - {'total'})}; use meta=total")
    return "total" in names


def _body_integer(body: dict[str, Any], name: str, minimum: int, maximum: int) -> int | None:
    if body.get(name) is None:
        return None
    return params.bounded(name, integer(body, name), minimum, maximum)
