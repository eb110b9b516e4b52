"""Resolve a query against a collection: names to columns, values to their types.

Writes no SQL; every error here is the caller's (BAD_REQUEST) and says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import bad_request
from core.query.ast import AllOf, AnyOf, Condition, Node, Not, Op, Sort
from core.schema.model import NAME_RE, CollectionSpec, FieldSpec
from core.schema.types import FIELD_TYPES, FieldType

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000

SYSTEM_FIELDS = {
    "id": FieldSpec("id", "string"),
    "created_at": FieldSpec("created_at", "datetime"),
    "updated_at": FieldSpec("updated_at", "datetime"),
}

TEXT_OPS = {Op.LIKE, Op.ILIKE, Op.CONTAINS, Op.ICONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.REGEX}
ORDER_OPS = {Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN}


@dataclass(frozen=True)
class Column:
    """A readable field: a typed column, or a key of a flexible collection's `_extra`."""

    name: str
    spec: FieldSpec | None  # None: an undeclared key of a flexible collection

    @property
    def ftype(self) -> FieldType | None:
        return FIELD_TYPES[self.spec.type] if self.spec else None


@dataclass(frozen=True)
class Planned:
    column: Column
    op: Op
    value: Any


PlannedNode = Planned | AllOf | AnyOf | Not


def resolve(collection: CollectionSpec, name: str) -> Column:
    spec = SYSTEM_FIELDS.get(name) or collection.by_name.get(name)
    if spec is not None:
        return Column(name, spec)
    if "." in name:
        raise bad_request(f"paths such as {name!r} are not supported yet")
    if collection.flexible and NAME_RE.match(name):
        return Column(name, None)
    raise bad_request(f"unknown field {name!r} in {collection.name!r}")


def plan_filter(collection: CollectionSpec, node: Node | None) -> PlannedNode | None:
    if node is None:
        return None
    if isinstance(node, Condition):
        column = resolve(collection, node.field)
        try:
            value = _coerce(column, node.op, node.value)
        except ValueError as exc:
            raise bad_request(f"filter {node.field!r} {node.op.label}: {exc}") from None
        return Planned(column, node.op, value)
    if isinstance(node, Not):
        return Not(plan_filter(collection, node.child))
    return type(node)(tuple(plan_filter(collection, c) for c in node.children))


def _coerce(column: Column, op: Op, raw: Any) -> Any:
    if op in (Op.NULL, Op.EXISTS):
        return _boolean(raw)
    if op in (Op.IN, Op.NIN):
        return [_one(column, v) for v in _list(raw)]
    if op is Op.BETWEEN:
        bounds = _list(raw)
        if len(bounds) != 2:
            raise ValueError("takes two values: low,high")
        return [_one(column, v) for v in bounds]
    kind = column.ftype.name if column.ftype else None
    if op in TEXT_OPS:
        return _text_operand(column, op, raw)
    if op in ORDER_OPS and (kind in ("boolean", "json") or (kind or "").endswith("[]")):
        raise ValueError(f"does not apply to {kind} fields")
    if raw is None:
        if op in (Op.EQ, Op.NE):
            return None
        raise ValueError("takes a value, not null")
    return _one(column, raw)


def _text_operand(column: Column, op: Op, raw: Any) -> Any:
    kind = column.ftype.name if column.ftype else None
    if op is Op.CONTAINS and kind is not None and kind.endswith("[]"):
        return _one(column, raw, element=True)  # membership of one element
    if op is Op.CONTAINS and kind == "json":
        return raw  # jsonb containment
    if column.ftype is not None and not column.ftype.textual:
        raise ValueError(f"does not apply to {kind} fields")
    if not isinstance(raw, str):
        raise ValueError("takes a string")
    return raw


def _one(column: Column, raw: Any, *, element: bool = False) -> Any:
    """One comparison value in the column's type; query-string text is parsed first."""
    ftype = column.ftype
    if ftype is None:
        return raw
    if element:
        ftype = FIELD_TYPES[ftype.name.removesuffix("[]")]
    if isinstance(raw, str) and ftype.from_text is not None:
        raw = ftype.from_text(raw)
    if ftype.name == "json":
        return raw
    return ftype.convert(raw)


def _list(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return raw.split(",") if raw else []
    if isinstance(raw, list):
        return raw
    raise ValueError("takes a list (or comma-separated values)")


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValueError("takes true or false")


def plan_sort(collection: CollectionSpec, sort: list[Sort]) -> list[tuple[Column, bool]]:
    out = []
    for key in sort:
        column = resolve(collection, key.field)
        if column.ftype is not None and column.ftype.name == "json":
            raise bad_request(f"cannot sort by json field {key.field!r}")
        out.append((column, key.descending))
    return out


def plan_fields(collection: CollectionSpec, names: list[str]) -> tuple[Column, ...] | None:
    """The selected columns (id first); None means all fields plus timestamps."""
    if not names or "*" in names:
        return None
    selected = {"id": resolve(collection, "id")}
    for name in names:
        name = name.strip()
        if name and name not in selected:
            selected[name] = resolve(collection, name)
    return tuple(selected.values())


def plan_limit(page_size: int) -> int:
    if page_size < 0:
        raise bad_request("limit must be at least 1")
    if page_size > MAX_LIMIT:
        raise bad_request(f"limit must be at most {MAX_LIMIT}")
    return page_size or DEFAULT_LIMIT


def plan_offset(offset: int, page: int, limit: int) -> int:
    """Rows to skip: `page` (from 1) wins over `offset` when given."""
    if offset < 0 or page < 0:
        raise bad_request("offset and page must not be negative")
    return (page - 1) * limit if page else offset
