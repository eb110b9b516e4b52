"""The custom scalars: JSON (any value) and BigInt (64-bit integers as JSON numbers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from plinth.wire import INT64_MAX, INT64_MIN
from tartiflette import Scalar
from tartiflette.constants import UNDEFINED_VALUE
from tartiflette.language.ast import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
)


class JSONScalar:
    def coerce_output(self, value: Any) -> Any:
        return value

    def coerce_input(self, value: Any) -> Any:
        return value

    def parse_literal(self, ast: Any) -> Any:
        """A literal as its JSON value; variables inside a JSON literal are not supported."""
        if isinstance(ast, ObjectValueNode):
            return {field.name.value: self.parse_literal(field.value) for field in ast.fields}
        if isinstance(ast, ListValueNode):
            return [self.parse_literal(item) for item in ast.values]
        if isinstance(ast, IntValueNode):
            return int(ast.value)
        if isinstance(ast, FloatValueNode):
            return float(ast.value)
        if isinstance(ast, StringValueNode | BooleanValueNode | EnumValueNode):
            return ast.value
        if isinstance(ast, NullValueNode):
            return None
        raise TypeError("JSON cannot contain variables")


class BigIntScalar:
    """Accepts integers, and integer strings for clients whose numbers are doubles."""

    def coerce_output(self, value: Any) -> int:
        return _int64(value)

    def coerce_input(self, value: Any) -> int:
        return _int64(value)

    def parse_literal(self, ast: Any) -> Any:
        if isinstance(ast, IntValueNode | StringValueNode):
            try:
                return _int64(ast.value)
            except TypeError:
                pass
        return UNDEFINED_VALUE


def _int64(value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise TypeError(f"BigInt cannot represent {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)  # an aggregate core computed as numeric
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"BigInt cannot represent {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise TypeError(f"BigInt cannot represent {value}: out of the 64-bit range")
    return value


def register_scalars(schema_name: str) -> None:
    Scalar("JSON", schema_name=schema_name)(JSONScalar())
    Scalar("BigInt", schema_name=schema_name)(BigIntScalar())
