"""aggregate[fn]=field,… and groupBy=… of the list route -> Aggregate protos for core."""

from __future__ import annotations

import re

from plinth.v1 import query_pb2 as pb
from sanic.request import RequestParameters

from gateways.rest import params
from gateways.rest.errors import bad_request

# The REST names of API.md; core answers with the same names.
FUNCTIONS = {
    "count": pb.AGGREGATE_FUNCTION_COUNT,
    "countDistinct": pb.AGGREGATE_FUNCTION_COUNT_DISTINCT,
    "countAll": pb.AGGREGATE_FUNCTION_COUNT_ALL,
    "sum": pb.AGGREGATE_FUNCTION_SUM,
    "sumDistinct": pb.AGGREGATE_FUNCTION_SUM_DISTINCT,
    "avg": pb.AGGREGATE_FUNCTION_AVG,
    "avgDistinct": pb.AGGREGATE_FUNCTION_AVG_DISTINCT,
    "min": pb.AGGREGATE_FUNCTION_MIN,
    "max": pb.AGGREGATE_FUNCTION_MAX,
}
# Parameters that shape a list of records, which an aggregate answer is not.
LIST_ONLY = ("sort", "fields", "limit", "page", "offset", "cursor", "meta")

_KEY = re.compile(r"^aggregate\[([^\[\]]+)\]$")
_GROUP_BY = ("groupBy", "groupBy[]")


def requested(args: RequestParameters) -> bool:
    return any(key.startswith("aggregate") or key in _GROUP_BY for key in args)


def from_args(args: RequestParameters) -> list[pb.Aggregate]:
    """aggregate[count]=*&aggregate[sum]=price,qty -> count(*), sum(price), sum(qty)."""
    if used := [name for name in LIST_ONLY if name in args]:
        raise bad_request(f"aggregate[…] answers one row per group; drop {', '.join(used)}")
    aggregates = []
    for key, values in args.items():
        if not key.startswith("aggregate"):
            continue
        match = _KEY.match(key)
        if match is None:
            raise bad_request(f"malformed parameter {key!r}; use aggregate[function]=field")
        function = FUNCTIONS.get(match.group(1))
        if function is None:
            raise bad_request(
                f"unknown aggregate function {match.group(1)!r}; use one of: {', '.join(FUNCTIONS)}"
            )
        fields = [part.strip() for text in values for part in text.split(",") if part.strip()]
        if not fields:
            raise bad_request(f"{key} needs a field, or * to count rows")
        aggregates += [pb.Aggregate(function=function, field=field) for field in fields]
    if not aggregates:
        raise bad_request("groupBy needs an aggregate, like aggregate[count]=*")
    return aggregates


def group_by(args: RequestParameters) -> list[str]:
    """groupBy=status,kind or groupBy[]=status&groupBy[]=kind."""
    return [field for name in _GROUP_BY for field in params.csv(args, name)]
