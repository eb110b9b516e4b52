"""Checks on collection and field definitions, before any DDL runs."""

from __future__ import annotations

import re

from core.errors import Code, PlinthError, Violation
from core.records.values import check_value
from core.schema.model import FLEXIBLE, NAME_RE, RESERVED_NAMES, STRICT, CollectionSpec, FieldSpec
from core.schema.types import FIELD_TYPES

LATER_TYPES = {
    "relation": "relation fields are not available yet",
    "vector": "vector fields are not available yet",
}


def check_name(name: str, what: str) -> None:
    if not NAME_RE.match(name or ""):
        raise PlinthError(
            Code.BAD_REQUEST,
            f"invalid {what} name {name!r}: use letters, digits and _, starting with a letter"
            " or _, at most 63 characters",
            [Violation("name", "must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$")],
        )


def check_field(spec: FieldSpec) -> None:
    """Raise BAD_REQUEST listing every problem of one field definition."""
    check_name(spec.name, "field")
    if spec.name in RESERVED_NAMES:
        raise PlinthError(Code.BAD_REQUEST, f"field name {spec.name!r} is reserved")
    problems: list[Violation] = []

    def problem(reason: str) -> None:
        problems.append(Violation(spec.name, reason))

    ftype = FIELD_TYPES.get(spec.type)
    if ftype is None:
        problem(
            LATER_TYPES.get(
                spec.type, f"unknown type {spec.type!r}; one of: {', '.join(FIELD_TYPES)}"
            )
        )
        raise PlinthError(Code.BAD_REQUEST, problems[0].reason, problems)
    if (spec.min is not None or spec.max is not None) and not ftype.numeric:
        problem("min and max apply to integer, float and decimal fields only")
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        problem("min is greater than max")
    if (spec.max_length is not None or spec.pattern is not None) and not ftype.textual:
        problem("max_length and pattern apply to string, text and enum fields only")
    if spec.max_length is not None and spec.max_length < 1:
        problem("max_length must be at least 1")
    if spec.pattern is not None:
        try:
            re.compile(spec.pattern)
        except re.error as exc:
            problem(f"pattern is not a valid regular expression: {exc}")
    if spec.type == "enum" and not spec.values:
        problem("an enum field needs its list of values")
    if spec.values and spec.type != "enum":
        problem("values apply to enum fields only")
    if spec.unique and spec.type == "json":
        problem("json fields cannot be unique")
    if not problems and spec.default is not None:
        try:
            check_value(spec, spec.default)
        except ValueError as exc:
            problem(f"default {exc}")
    if problems:
        raise PlinthError(
            Code.BAD_REQUEST, "; ".join(f"{p.field}: {p.reason}" for p in problems), problems
        )


def check_collection(spec: CollectionSpec) -> None:
    check_name(spec.name, "collection")
    if spec.mode not in (STRICT, FLEXIBLE):
        raise PlinthError(Code.BAD_REQUEST, "mode must be 'strict' or 'flexible'")
    seen: set[str] = set()
    for field in spec.fields:
        if field.name in seen:
            raise PlinthError(Code.BAD_REQUEST, f"field {field.name!r} is declared twice")
        seen.add(field.name)
        check_field(field)
