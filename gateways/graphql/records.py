"""Record JSON between core and GraphQL: Plinth field names <-> GraphQL field names."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from gateways.graphql.model import Collection


def decode(data: bytes, collection: Collection) -> Any:
    """Core's JSON (a record or a list of them), keyed by GraphQL names.

    Decimal columns arrive as JSON numbers; they are read as Decimal so the
    String a client receives has every digit (orjson would round to a double).
    """
    if collection.exact_decimals:
        value = json.loads(data, parse_float=Decimal)
    else:
        value = orjson.loads(data)
    if isinstance(value, list):
        return [_renamed(record, collection.graphql_names) for record in value]
    return _renamed(value, collection.graphql_names)


def _renamed(record: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    # Keys GraphQL does not know (a flexible collection's extras) are dropped.
    return {names[key]: value for key, value in record.items() if key in names}


def encode(data: dict[str, Any], collection: Collection) -> bytes:
    """A write's input, keyed by Plinth names."""
    return orjson.dumps({collection.columns[key]: value for key, value in data.items()})


def dumps(result: dict[str, Any]) -> bytes:
    """A GraphQL response; Decimals only remain inside JSON values, as numbers."""
    return orjson.dumps(result, default=_number)


def _number(value: Any) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
