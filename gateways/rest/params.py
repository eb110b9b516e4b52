"""Query-string parameters of the record routes -> request fields for core.

Structure only: values stay text and core coerces them to each field's type.
"""

from __future__ import annotations

import re

from google.protobuf import struct_pb2
from plinth.client import sort_keys
from plinth.v1 import query_pb2
from sanic import Request

from gateways.rest.errors import bad_request

_BRACKETS = re.compile(r"^filter\[([^\[\]]+)\](?:\[([^\[\]]+)\])?$")

OPERATORS = {
    name: getattr(query_pb2, f"OPERATOR_{name.upper()}")
    for name in (
        "eq ne gt gte lt lte in nin between like ilike contains icontains"
        " starts_with ends_with null exists regex"
    ).split()
}


def _operator(name: str) -> int:
    operator = OPERATORS.get(name.removeprefix("_"))
    if operator is None:
        raise bad_request(f"unknown operator {name!r}; use one of: {', '.join(OPERATORS)}")
    return operator


def bracket_filter(request: Request) -> query_pb2.Filter:
    """filter[f]=v and filter[f][op]=v, all AND-ed."""
    conditions = []
    for key, values in request.args.items():
        if not key.startswith("filter["):
            continue
        match = _BRACKETS.match(key)
        if match is None:
            raise bad_request(f"malformed filter parameter {key!r}; use filter[field][op]=value")
        field, op = match.groups()
        for text in values:
            condition = query_pb2.Condition(
                field=field,
                operator=_operator(op or "eq"),
                value=struct_pb2.Value(string_value=text),
            )
            conditions.append(query_pb2.Filter(condition=condition))
    if not conditions:
        return query_pb2.Filter()
    return query_pb2.Filter(all_of=query_pb2.FilterList(filters=conditions))


def integer(request: Request, name: str, minimum: int) -> int | None:
    text = request.args.get(name)
    if text is None or text == "":
        return None
    try:
        number = int(text)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {text!r}") from None
    if number < minimum:
        raise bad_request(f"{name} must be at least {minimum}")
    return number


def csv(request: Request, name: str) -> list[str]:
    return [part.strip() for part in request.args.get(name, "").split(",") if part.strip()]


def sort(request: Request) -> list[query_pb2.SortField]:
    return sort_keys(csv(request, "sort"))


def if_match(request: Request) -> int:
    """The version an If-Match header asks for; 0 when absent or '*'."""
    header = request.headers.get("if-match", "").strip()
    if header in ("", "*"):
        return 0
    tag = header.removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise bad_request(f'If-Match must be an ETag from this API, like "3", not {header!r}')
    return int(tag)


def etag(version: int) -> str:
    return f'"{version}"'
