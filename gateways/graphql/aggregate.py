"""`<collection>Aggregate`: the selection set compiled into core's aggregates.

`{ productsAggregate(groupBy: [status]) { group { status } count avg { price } } }`
asks core for count(*) and avg(price) per status, nothing more. Core answers
one JSON object per group, keyed by Plinth names and REST function names
(`{"status": "active", "count": {"*": 15}, "avg": {"price": 243.6}}`), which
is reshaped here into the GraphQL names.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from plinth.v1 import query_pb2 as q
from plinth.v1 import record_service_pb2 as pb

from gateways.graphql.model import Collection
from gateways.graphql.selection import selected, subfields
from gateways.graphql.where import to_filter

# The per-field aggregates: GraphQL field -> (core's function, the key of its answer).
FUNCTIONS = {
    "countNonNull": (q.AGGREGATE_FUNCTION_COUNT, "count"),
    "countDistinct": (q.AGGREGATE_FUNCTION_COUNT_DISTINCT, "countDistinct"),
    "sum": (q.AGGREGATE_FUNCTION_SUM, "sum"),
    "sumDistinct": (q.AGGREGATE_FUNCTION_SUM_DISTINCT, "sumDistinct"),
    "avg": (q.AGGREGATE_FUNCTION_AVG, "avg"),
    "avgDistinct": (q.AGGREGATE_FUNCTION_AVG_DISTINCT, "avgDistinct"),
    "min": (q.AGGREGATE_FUNCTION_MIN, "min"),
    "max": (q.AGGREGATE_FUNCTION_MAX, "max"),
}
ROWS = ("*", q.AGGREGATE_FUNCTION_COUNT)  # `count`: the rows of the group


async def resolve(c: Collection, args: dict[str, Any], ctx: Any, info: Any) -> list[Any]:
    group_by = [c.columns[name] for name in args.get("groupBy") or ()]
    request = pb.AggregateRecordsRequest(
        collection=c.name,
        filter=to_filter(args.get("where"), c),
        aggregates=[q.Aggregate(function=f, field=field) for field, f in _asked(c, info)],
        group_by=group_by,
    )
    answer = await ctx.call_records("AggregateRecords", request)
    # Decimals (and sums and averages of them) keep every digit; Float, BigInt and
    # String render a Decimal as a number, an integer and its digits.
    groups = json.loads(answer.groups, parse_float=Decimal)
    return [_reshaped(group, group_by, c) for group in groups]


def _asked(c: Collection, info: Any) -> list[tuple[str, int]]:
    """(Plinth field, function) for each aggregate the selection reads, in order."""
    asked: dict[tuple[str, int], None] = {}
    wanted = selected(info)
    if "count" in wanted:
        asked[ROWS] = None
    for name, nodes in wanted.items():
        if name in FUNCTIONS:
            function = FUNCTIONS[name][0]
            for field in subfields(info, nodes):
                if field in c.columns:  # not __typename
                    asked[(c.columns[field], function)] = None
    # Core needs an aggregate to compute; `{ group { … } }` alone lists the groups.
    return list(asked) or [ROWS]


def _reshaped(group: dict[str, Any], group_by: list[str], c: Collection) -> dict[str, Any]:
    names = c.graphql_names
    rows = group.get("count") or {}
    answer: dict[str, Any] = {
        "group": {names[column]: group.get(column) for column in group_by},
        "count": rows.get("*"),
    }
    for name, (_, key) in FUNCTIONS.items():
        values = group.get(key) or {}
        answer[name] = {names[field]: value for field, value in values.items() if field in names}
    return answer
