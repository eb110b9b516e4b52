"""A pure-Python reference of the query semantics (docs/query.md), for property tests."""

from __future__ import annotations

import re
from typing import Any

from core.query.ast import AllOf, AnyOf, Condition, Node, Not, Op

MISSING = object()


def value_of(row: dict[str, Any], field: str) -> Any:
    """The value a field or json path names; None when absent or null."""
    head, *path = field.split(".")
    value = row.get(head)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def present(row: dict[str, Any], field: str) -> bool:
    head, *path = field.split(".")
    value: Any = row.get(head, MISSING)
    for key in path:
        value = value.get(key, MISSING) if isinstance(value, dict) else MISSING
    return value is not MISSING and (value is not None or bool(path))


def _like(pattern: str, value: str, flags: int = 0) -> bool:
    """SQL LIKE: % any run, _ any one character, a backslash makes the next one literal."""
    regex, escaped = [], False
    for c in pattern:
        if escaped or c not in "%_\\":
            regex.append(re.escape(c))
            escaped = False
        elif c == "\\":
            escaped = True
        else:
            regex.append(".*" if c == "%" else ".")
    return re.fullmatch("".join(regex), value, flags | re.DOTALL) is not None


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split(",") if value else []
    return list(value)


def matches(row: dict[str, Any], node: Node | None, coerce) -> bool:
    """`coerce(field, raw)` turns a filter value into the field's Python value."""
    if node is None:
        return True
    if isinstance(node, AllOf):
        return all(matches(row, c, coerce) for c in node.children)
    if isinstance(node, AnyOf):
        return any(matches(row, c, coerce) for c in node.children)
    if isinstance(node, Not):
        return not matches(row, node.child, coerce)
    return _condition(row, node, coerce)


def _condition(row: dict[str, Any], cond: Condition, coerce) -> bool:
    field, op, raw = cond.field, cond.op, cond.value
    have = value_of(row, field)
    if op is Op.NULL:
        return (have is None) == (raw in (True, "true"))
    if op is Op.EXISTS:
        return present(row, field) == (raw in (True, "true"))
    if op is Op.IN:
        return have is not None and have in [coerce(field, v) for v in _list(raw)]
    if op is Op.NIN:
        return have is None or have not in [coerce(field, v) for v in _list(raw)]
    if op is Op.BETWEEN:
        low, high = (coerce(field, v) for v in _list(raw))
        return have is not None and low <= have <= high
    want = coerce(field, raw)
    if op is Op.EQ:
        return have is None if want is None else have == want
    if op is Op.NE:
        return have != want
    if have is None:
        return False
    return {
        Op.GT: lambda: have > want,
        Op.GTE: lambda: have >= want,
        Op.LT: lambda: have < want,
        Op.LTE: lambda: have <= want,
        Op.CONTAINS: lambda: want in have,
        Op.ICONTAINS: lambda: want.lower() in have.lower(),
        Op.STARTS_WITH: lambda: have.startswith(want),
        Op.ENDS_WITH: lambda: have.endswith(want),
        Op.LIKE: lambda: _like(want, have),
        Op.ILIKE: lambda: _like(want, have, re.IGNORECASE),
        Op.REGEX: lambda: re.search(want, have) is not None,
    }[op]()


def ordered(rows: list[dict[str, Any]], sort: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Sorted by the keys, nulls last in either direction, then by id."""
    out = sorted(rows, key=lambda r: r["id"])
    for field, descending in reversed(sort):
        known = [r for r in out if value_of(r, field) is not None]
        unknown = [r for r in out if value_of(r, field) is None]
        out = sorted(known, key=lambda r: value_of(r, field), reverse=descending) + unknown
    return out
