"""Checks on collection and field definitions, before any DDL runs."""

from __future__ import annotations

import re

from core.errors import Code, CoreError, Violation
from core.records.values import check_value
from core.schema.model import (
    CARDINALITIES,
    FLEXIBLE,
    MANY_TO_ONE,
    NAME_RE,
    ON_DELETE,
    ONE_TO_MANY,
    RESERVED_NAMES,
    STRICT,
    CollectionSpec,
    FieldSpec,
)
from core.schema.types import FIELD_TYPES

LATER_TYPES = {"vector": "vector fields are not available yet"}


def check_name(name: str, what: str) -> None:
    if not NAME_RE.fullmatch(name or ""):
        raise CoreError(
            Code.BAD_REQUEST,
            f"invalid {what} name {name!r}: use letters, digits and _, starting with a letter"
            " or _, at most 63 characters",
            [Violation("name", "must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$")],
        )


def check_field(spec: FieldSpec) -> None:
    """Raise BAD_REQUEST listing every problem of one field definition."""
    check_name(spec.name, "field")
    if spec.name in RESERVED_NAMES:
        raise CoreError(Code.BAD_REQUEST, f"field name {spec.name!r} is reserved")
    problems: list[Violation] = []

    def problem(reason: str) -> None:
        problems.append(Violation(spec.name, reason))

    if spec.is_relation:
        _relation_problems(spec, problem)
    elif spec.target or spec.cardinality or spec.inverse or spec.on_delete:
        problem("target, cardinality, inverse and on_delete apply to relation fields only")
    ftype = FIELD_TYPES.get(spec.type)
    if ftype is None:
        problem(
            LATER_TYPES.get(
                spec.type, f"unknown type {spec.type!r}; one of: {', '.join(FIELD_TYPES)}"
            )
        )
        raise CoreError(Code.BAD_REQUEST, problems[0].reason, problems)
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
        raise CoreError(
            Code.BAD_REQUEST, "; ".join(f"{p.field}: {p.reason}" for p in problems), problems
        )


def _relation_problems(spec: FieldSpec, problem) -> None:
    """What a relation definition gets wrong on its own (its target is checked by changes)."""
    if not spec.target or not NAME_RE.fullmatch(spec.target):
        problem("a relation field needs the name of its target collection")
    if spec.cardinality not in CARDINALITIES:
        problem(f"cardinality must be one of: {', '.join(CARDINALITIES)}")
    if spec.cardinality == ONE_TO_MANY and not spec.inverse:
        problem("a one_to_many field needs `inverse`: the target's many_to_one field it reverses")
    if spec.inverse and spec.cardinality == MANY_TO_ONE:
        problem("inverse applies to one_to_many and many_to_many fields only")
    if spec.on_delete is not None and spec.cardinality != MANY_TO_ONE:
        problem("on_delete applies to many_to_one fields only")
    if spec.on_delete is not None and spec.on_delete not in ON_DELETE:
        problem(f"on_delete must be one of: {', '.join(ON_DELETE)}")
    if spec.on_delete == "set_null" and spec.required:
        problem("a required field cannot be set to null when its target is deleted")
    if spec.cardinality != MANY_TO_ONE and (spec.required or spec.unique or spec.index):
        problem("required, unique and index apply to many_to_one relations only")
    if spec.default is not None:
        problem("relation fields take no default")


def check_collection(spec: CollectionSpec) -> None:
    check_name(spec.name, "collection")
    if spec.mode not in (STRICT, FLEXIBLE):
        raise CoreError(Code.BAD_REQUEST, "mode must be 'strict' or 'flexible'")
    seen: set[str] = set()
    for field in spec.fields:
        if field.name in seen:
            raise CoreError(Code.BAD_REQUEST, f"field {field.name!r} is declared twice")
        seen.add(field.name)
        check_field(field)
