"""`<collection>Connection`: Relay cursor paging over core's keyset pages.

Every page is one ListRecords call. `first` / `after` page forward and
`last` / `before` backward; `after` and `before` are core's page tokens,
which it checks against the query (another filter or sort is BAD_REQUEST).
`last` without `before` is core's backward page without a token: the end
of the list. Core answers a cursor per record only when one is selected,
and the total only when `totalCount` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plinth import PlinthError
from plinth.v1 import record_service_pb2 as pb

from gateways.graphql import records
from gateways.graphql.model import Collection
from gateways.graphql.reads import read
from gateways.graphql.selection import selected, subfields
from gateways.graphql.where import to_filter, to_sort

MAX_PAGE = 100
DEFAULT_PAGE = 25


@dataclass(frozen=True)
class Page:
    """The Relay arguments, checked."""

    size: int
    backward: bool
    token: str  # `after` (forward) or `before` (backward); empty: from the start / end


def page_of(args: dict[str, Any]) -> Page:
    first, last = args.get("first"), args.get("last")
    after, before = args.get("after") or "", args.get("before") or ""
    if first is not None and last is not None:
        raise _bad("first and last cannot be used together: page forward or backward")
    if after and before:
        raise _bad("after and before cannot be used together")
    if (first is not None and before) or (last is not None and after):
        raise _bad("page forward with first and after, or backward with last and before")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise _bad(f"{name} must be between 0 and {MAX_PAGE}")
    backward = last is not None or bool(before)
    size = (last if backward else first) if (first, last) != (None, None) else DEFAULT_PAGE
    return Page(size, backward, before if backward else after)


async def resolve(c: Collection, args: dict[str, Any], ctx: Any, info: Any) -> dict[str, Any]:
    page = page_of(args)
    wanted = selected(info)
    edges = subfields(info, wanted.get("edges", ()))
    page_info = subfields(info, wanted.get("pageInfo", ()))
    want_cursors = "cursor" in edges or bool({"startCursor", "endCursor"} & page_info.keys())
    want_total = "totalCount" in wanted
    where = to_filter(args.get("where"), c)

    if not ({"edges", "nodes", "pageInfo"} & wanted.keys()) and not page.token:
        # Only totalCount (or __typename): a count is all it takes. With a cursor,
        # the list call below still has core check it.
        total = await _count(c, where, ctx) if want_total else 0
        return _answer([], [], False, False, total)

    reading = await read(info, c, [*edges.get("node", ()), *wanted.get("nodes", ())])
    request = pb.ListRecordsRequest(
        collection=c.name,
        filter=where,
        sort=to_sort(args, c),
        fields=reading.fields,
        relations=reading.relations,
        # A page of 0 asks for one record, only to learn whether there is one.
        page_size=page.size or 1,
        include_total=want_total,
        record_cursors=bool(want_cursors),
    )
    request.page_token = page.token
    request.backward = page.backward  # without a token: the last page
    answer = await ctx.call_records("ListRecords", request)
    rows, cursors = _rows(answer, c, reading.exact, want_cursors)
    # With a page of 0, the one record read says whether there are any.
    more = bool(answer.has_more) if page.size else bool(rows)
    rows, cursors = rows[: page.size], cursors[: page.size]
    # Before the page is at least the record `after` names (and after it the one
    # `before` names): Relay lets a server answer true there without counting.
    if page.backward:
        return _answer(rows, cursors, bool(page.token), more, answer.total)
    return _answer(rows, cursors, more, bool(page.token), answer.total)


def _rows(
    answer: Any, c: Collection, exact: bool, want_cursors: bool
) -> tuple[list[Any], list[Any]]:
    """The records, and their cursors (None each when not asked for)."""
    rows = records.decode(answer.records, c, exact)
    if not want_cursors:
        return rows, [None] * len(rows)
    cursors = list(answer.record_cursors)
    if len(cursors) != len(rows):
        raise PlinthError(
            "INTERNAL", f"core answered {len(cursors)} cursors for {len(rows)} records"
        )
    return rows, cursors


def _answer(
    rows: list[Any], cursors: list[Any], has_next: bool, has_previous: bool, total: int
) -> dict[str, Any]:
    edges = [{"cursor": cursor, "node": row} for cursor, row in zip(cursors, rows, strict=True)]
    return {
        "edges": edges,
        "nodes": rows,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
        "totalCount": total,
    }


async def _count(c: Collection, where: Any, ctx: Any) -> int:
    answer = await ctx.call_records(
        "CountRecords", pb.CountRecordsRequest(collection=c.name, filter=where)
    )
    return answer.count


def _bad(message: str) -> PlinthError:
    return PlinthError("BAD_REQUEST", message)
