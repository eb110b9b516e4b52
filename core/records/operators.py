"""PATCH bodies: plain fields and the update operators $set $unset $inc $push $pull.

A body is checked against the schema here (every violation at once) and becomes
a CheckedUpdate; writes.patch turns it into SQL expressions on the row itself
(`col = t.col + $n`, array concatenation, …), so no update reads before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import Code, CoreError, Violation, invalid
from core.records.values import (
    UNKNOWN_FIELD,
    CheckedRecord,
    check_links,
    check_record,
    check_value,
)
from core.schema.model import NAME_RE, SYSTEM_COLUMNS, CollectionSpec, FieldSpec
from core.schema.types import FIELD_TYPES

OPERATORS = ("$set", "$unset", "$inc", "$push", "$pull")
NUMERIC = ("integer", "float", "decimal")
ARRAYS = {"string[]": "string", "integer[]": "integer", "float[]": "float"}


@dataclass(frozen=True)
class Op:
    """One operator on one column: kind is "inc", "push", "pull" or "unset"."""

    name: str
    kind: str


@dataclass
class CheckedUpdate:
    """$set and plain fields as a partial record, the other operators in body order."""

    record: CheckedRecord = field(default_factory=CheckedRecord)
    ops: list[Op] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)  # one per op (None for unset)
    unset_extras: list[str] = field(default_factory=list)
    # many_to_many fields: (field, "push" | "pull", ids); a new set is in record.links.
    link_ops: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def shape(self) -> tuple:
        return (tuple(self.ops), tuple(self.unset_extras))


def uses_operators(body: dict[str, Any]) -> bool:
    return any(isinstance(k, str) and k.startswith("$") for k in body)


def check_update(collection: CollectionSpec, body: dict[str, Any]) -> CheckedUpdate:
    """A PATCH body -> CheckedUpdate, or VALIDATION_ERROR / BAD_REQUEST."""
    if not uses_operators(body):
        return CheckedUpdate(record=check_record(collection, body, partial=True))
    plain = {k: v for k, v in body.items() if not k.startswith("$")}
    unknown = [k for k in body if k.startswith("$") and k not in OPERATORS]
    if unknown:
        raise CoreError(
            Code.BAD_REQUEST,
            f"unknown update operator {unknown[0]!r}; use one of: {', '.join(OPERATORS)}",
        )
    sets = dict(plain)
    seen: dict[str, str] = {key: "$set" for key in plain}
    violations: list[Violation] = []
    out = CheckedUpdate()
    for operator in OPERATORS:
        if operator not in body:
            continue
        argument = body[operator]
        if operator == "$unset" and isinstance(argument, list):
            if not all(isinstance(name, str) for name in argument):
                raise CoreError(Code.BAD_REQUEST, "$unset takes a list of field names")
            argument = dict.fromkeys(argument, True)
        if not isinstance(argument, dict):
            raise CoreError(Code.BAD_REQUEST, f"{operator} takes an object of field: value")
        for name, value in argument.items():
            if not isinstance(name, str):
                raise CoreError(Code.BAD_REQUEST, f"{operator} takes field names")
            if name in seen:
                raise CoreError(
                    Code.BAD_REQUEST,
                    f"field {name!r} is changed by both {seen[name]} and {operator}",
                )
            seen[name] = operator
            if operator == "$set":
                sets[name] = value
                continue
            try:
                _check_op(collection, out, operator, name, value)
            except ValueError as exc:
                violations.append(Violation(name, str(exc)))
    if "id" in sets:
        violations.append(Violation("id", "cannot be changed"))
    cleared = out.record.links  # by $unset
    try:
        out.record = check_record(collection, sets, partial=True)
        out.record.links.update(cleared)
    except CoreError as exc:
        violations = exc.violations + violations
    if violations:
        raise invalid(violations)
    return out


def _check_op(
    collection: CollectionSpec, out: CheckedUpdate, operator: str, name: str, value: Any
) -> None:
    if name in SYSTEM_COLUMNS:
        raise ValueError("is a system field")
    spec = collection.by_name.get(name)
    if spec is not None and spec.to_many:
        _check_link_op(out, spec, operator, value)
        return
    if operator == "$unset":
        if spec is None:
            if not collection.flexible:
                raise ValueError(UNKNOWN_FIELD)
            if not NAME_RE.fullmatch(name):
                raise ValueError("is not a valid field name")
            out.unset_extras.append(name)
            return
        if spec.required:
            raise ValueError("is required")
        out.ops.append(Op(name, "unset"))
        out.values.append(None)
        return
    if spec is None:
        raise ValueError(UNKNOWN_FIELD if not collection.flexible else _needs_declared(operator))
    if operator == "$inc":
        if spec.type not in NUMERIC:
            raise ValueError(f"$inc needs a numeric field, not a {spec.type} field")
        if value is None:
            raise ValueError("$inc needs a number")
        out.ops.append(Op(name, "inc"))
        out.values.append(FIELD_TYPES[spec.type].convert(value))
        return
    if spec.type not in ARRAYS:
        raise ValueError(f"{operator} needs an array field, not a {spec.type} field")
    element = FieldSpec(name=name, type=ARRAYS[spec.type])
    if operator == "$push" and isinstance(value, dict) and set(value) == {"$each"}:
        value = value["$each"]
    elif operator == "$pull" and isinstance(value, dict) and set(value) == {"$in"}:
        value = value["$in"]
    items = value if isinstance(value, list) else [value]
    if any(item is None for item in items):
        raise ValueError(f"{operator} takes no null elements")
    converted = [check_value(element, item) for item in items]
    out.ops.append(Op(name, operator[1:]))
    out.values.append(converted)


def _check_link_op(out: CheckedUpdate, spec: FieldSpec, operator: str, value: Any) -> None:
    """$push / $pull add and remove links of a many_to_many field; $unset clears them."""
    if operator == "$unset":
        out.record.links[spec.name] = check_links(spec, None)
        return
    if operator not in ("$push", "$pull"):
        raise ValueError(f"{operator} does not apply to relation fields; use $push or $pull")
    if isinstance(value, dict) and set(value) in ({"$each"}, {"$in"}):
        value = next(iter(value.values()))
    ids = check_links(spec, value if isinstance(value, list) else [value])
    out.link_ops.append((spec.name, operator[1:], ids))


def _needs_declared(operator: str) -> str:
    return f"{operator} needs a declared field"
