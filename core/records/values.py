"""Record bodies checked against a collection: every violation reported at once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.errors import Code, CoreError, Violation, invalid
from core.schema.model import NAME_RE, SYSTEM_COLUMNS, CollectionSpec, FieldSpec
from core.schema.types import FIELD_TYPES, list_of, record_id

UNKNOWN_FIELD = "unknown field"


@dataclass
class CheckedRecord:
    """Column values ready for psycopg, and a flexible collection's extra keys."""

    id: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)  # many_to_many: the new set


def decode_object(data: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or BAD_REQUEST."""
    try:
        value = orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        raise CoreError(Code.BAD_REQUEST, f"malformed JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CoreError(Code.BAD_REQUEST, "the body must be a JSON object")
    return value


def check_value(spec: FieldSpec, value: Any) -> Any:
    """One non-null value of a field -> its column value, or ValueError(reason)."""
    converted = FIELD_TYPES[spec.type].convert(value)
    if spec.min is not None and converted < spec.min:
        raise ValueError(f"must be at least {spec.min:g}")
    if spec.max is not None and converted > spec.max:
        raise ValueError(f"must be at most {spec.max:g}")
    if spec.max_length is not None and len(converted) > spec.max_length:
        raise ValueError(f"must be at most {spec.max_length} characters")
    if spec.pattern is not None and not re.search(spec.pattern, converted):
        raise ValueError(f"must match the pattern {spec.pattern}")
    if spec.values and converted not in spec.values:
        raise ValueError(f"must be one of: {', '.join(spec.values)}")
    return converted


check_id = record_id
RECORD_IDS = list_of(record_id)


def check_links(spec: FieldSpec, value: Any) -> list[str]:
    """The ids a many_to_many field is set to (null clears it), each once."""
    if not spec.owns_links:
        raise ValueError(f"is read-only: it reverses {spec.target}.{spec.inverse}")
    if value is None:
        return []
    ids = RECORD_IDS(value)
    if len(set(ids)) != len(ids):
        raise ValueError("lists a record more than once")
    return ids


def check_record(
    collection: CollectionSpec, data: dict[str, Any], *, partial: bool
) -> CheckedRecord:
    """Validate a body. `partial` (PATCH) skips the required-field check for absent fields.

    System fields other than `id` are read-only and ignored, so a record read
    back and sent again is accepted.
    """
    out = CheckedRecord()
    violations: list[Violation] = []
    for key, value in data.items():
        if key == "id":
            try:
                out.id = check_id(value)
            except ValueError as exc:
                violations.append(Violation("id", str(exc)))
            continue
        if key in SYSTEM_COLUMNS:
            continue
        spec = collection.by_name.get(key)
        if spec is None:
            if not collection.flexible:
                violations.append(Violation(key, UNKNOWN_FIELD))
            elif not NAME_RE.fullmatch(key):
                violations.append(Violation(key, "is not a valid field name"))
            else:
                out.extras[key] = value
            continue
        try:
            if spec.to_many:
                out.links[key] = check_links(spec, value)
            elif value is None:
                if spec.required:
                    raise ValueError("is required")
                out.columns[key] = None
            else:
                out.columns[key] = check_value(spec, value)
        except ValueError as exc:
            violations.append(Violation(key, str(exc)))
    if not partial:
        for spec in collection.fields:
            if spec.required and spec.default is None and spec.name not in data:
                violations.append(Violation(spec.name, "is required"))
    if violations:
        raise invalid(violations)
    return out
