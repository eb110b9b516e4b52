"""Field types: their SQL column type and how a JSON value becomes a column value.

A converter takes a decoded JSON value and returns what psycopg sends, or
raises ValueError with a reason a user can act on.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from plinth.wire import INT64_MAX, INT64_MIN
from psycopg.types.json import Jsonb

MAX_ID_LENGTH = 255


@dataclass(frozen=True)
class FieldType:
    name: str
    sql: str  # constant column type text
    convert: Callable[[Any], Any]
    numeric: bool = False  # min / max apply
    textual: bool = False  # max_length / pattern apply, filter text passes as is
    from_text: Callable[[str], Any] | None = None  # query-string text -> JSON value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError("must be an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("is out of the 64-bit integer range")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number or a numeric string")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("must be a number or a numeric string") from None
    if not result.is_finite():
        raise ValueError("must be a finite number")
    return result


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _datetime(value: Any) -> datetime:
    try:
        result = datetime.fromisoformat(_string(value))
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z") from None
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(_string(value))
    except ValueError:
        raise ValueError("must be an ISO 8601 date, e.g. 2024-05-01") from None


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(_string(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


def _json(value: Any) -> Jsonb:
    # Postgres jsonb cannot hold the NUL character, in keys or in strings.
    if b"\\u0000" in orjson.dumps(value):
        raise ValueError("must not contain the NUL character (\\u0000)")
    return Jsonb(value)


def list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError("must be a list")
        out = []
        for position, element in enumerate(value):
            try:
                out.append(item(element))
            except ValueError as exc:
                raise ValueError(f"item {position} {exc}") from None
        return out

    return convert


def record_id(value: Any) -> str:
    """A record id: what `id` takes, and what a many_to_one field holds."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise ValueError(f"must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    if any(ord(ch) < 32 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _bool_text(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError("must be true or false")


def _number_text(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError("must be a number") from None


FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in (
        FieldType("string", "text", _string, textual=True),
        FieldType("text", "text", _string, textual=True),
        FieldType("integer", "bigint", _integer, numeric=True, from_text=_number_text),
        FieldType("float", "double precision", _float, numeric=True, from_text=_number_text),
        FieldType("decimal", "numeric", _decimal, numeric=True, from_text=str),
        FieldType("boolean", "boolean", _boolean, from_text=_bool_text),
        FieldType("datetime", "timestamptz", _datetime, from_text=str),
        FieldType("date", "date", _date, from_text=str),
        FieldType("uuid", "uuid", _uuid, from_text=str),
        FieldType("json", "jsonb", _json),
        FieldType("enum", "text", _string, textual=True),
        FieldType("string[]", "text[]", list_of(_string)),
        FieldType("integer[]", "bigint[]", list_of(_integer)),
        FieldType("float[]", "double precision[]", list_of(_float)),
        FieldType("file", "text", _string, textual=True),
        # A many_to_one field's column holds the related id; to-many ones have no column.
        FieldType("relation", "text", record_id),
    )
}
