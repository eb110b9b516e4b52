"""JSON values as google.protobuf.Value, the form filter values travel in."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

# A Value number is a double: larger integers travel as text, which core parses
# back to an exact integer for integer fields.
EXACT_DOUBLE_INT = 2**53
MAX_DEPTH = 32


def to_value(value: Any, max_depth: int = MAX_DEPTH) -> struct_pb2.Value:
    """Raises ValueError for a value nested deeper than max_depth or not JSON."""
    try:
        return json_format.ParseDict(_exact(value, max_depth, max_depth), struct_pb2.Value())
    except json_format.ParseError as exc:
        raise ValueError(str(exc)) from None


def _exact(value: Any, depth_left: int, max_depth: int) -> Any:
    if depth_left < 0:
        raise ValueError(f"the value is nested more than {max_depth} levels deep")
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) <= EXACT_DOUBLE_INT else str(value)
    if isinstance(value, list):
        return [_exact(item, depth_left - 1, max_depth) for item in value]
    if isinstance(value, dict):
        return {key: _exact(item, depth_left - 1, max_depth) for key, item in value.items()}
    return value
