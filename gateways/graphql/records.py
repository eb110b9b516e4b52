"""Record JSON between core and GraphQL: Plinth field names <-> GraphQL field names."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from gateways.graphql.model import Collection


def decode(data: bytes, collection: Collection, exact: bool | None = None) -> Any:
    """Core's JSON (a record or a list of them), keyed by GraphQL names.

    Decimal columns arrive as JSON numbers; with `exact` (default: when the collection
    has decimal fields) they are read as Decimal so the String a client receives has
    every digit (orjson would round to a double).
    """
    if collection.exact_decimals if exact is None else exact:
        value = json.loads(data, parse_float=Decimal)
    else:
        value = orjson.loads(data)
    if isinstance(value, list):
        return [renamed(record, collection) for record in value]
    return renamed(value, collection)


def renamed(record: dict[str, Any], c: Collection) -> dict[str, Any]:
    """A record keyed by GraphQL names, related records by their own collection's."""
    answer = {}
    for key, value in record.items():
        field = c.by_column.get(key)
        if field is None:
            continue  # a key GraphQL does not know (a flexible collection's extras)
        answer[field.name] = _related(value, c.target(field)) if field.relation else value
    return answer


def _related(value: Any, target: Collection) -> Any:
    """Related records (an object, a list, or null), renamed. Core answers ids instead
    when no field of the related records is read; GraphQL then reads nothing here."""
    if isinstance(value, dict):
        return renamed(value, target)
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return [renamed(item, target) for item in value]
    return None


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
