"""A field of a collection as JSON Schema: the value a record holds, the value a body
may send, and the query-string form of an equality filter."""

from __future__ import annotations

from typing import Any

from plinth.v1 import schema_service_pb2 as pb
from plinth.wire import INT64_MAX, INT64_MIN, MAX_KEY_CHARS, NAME_PATTERN, TOPIC_PATTERN

Schema = dict[str, Any]

DATE_TIME: Schema = {"type": "string", "format": "date-time"}
NO_NUL = "^[^\\u0000]*$"
# The base JSON Schema of each field type's value (in answers and in bodies).
BASE: dict[str, Schema] = {
    "string": {"type": "string"},
    "text": {"type": "string"},
    "enum": {"type": "string"},
    "file": {"type": "string"},
    "integer": {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
    "float": {"type": "number"},
    # Postgres numeric: sent as a number or a numeric string, answered as a number.
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "datetime": DATE_TIME,
    "date": {"type": "string", "format": "date"},
    "uuid": {"type": "string", "format": "uuid"},
    "json": {},
    "string[]": {"type": "array", "items": {"type": "string"}},
    "integer[]": {"type": "array", "items": {"type": "integer"}},
    "float[]": {"type": "array", "items": {"type": "number"}},
}
# Core's record ids: 1 to 255 characters, none of them a C0 control character.
RECORD_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[^\\u0000-\\u001f]*$",
}
NAME: Schema = {"type": "string", "pattern": NAME_PATTERN}
TOPIC: Schema = {"type": "string", "pattern": TOPIC_PATTERN, "not": {"const": "jobs"}}
# Core refuses control characters and Unicode noncharacters in keys and prefixes.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17)
)
KEY_TEXT = f"^[^\\u0000-\\u001f\\u007f-\\u009f{_NONCHARACTERS}]*$"
KEY: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS, "pattern": KEY_TEXT}
PREFIX: Schema = {**KEY, "minLength": 0}
# A relation read without deep fields is ids; with them (`author.*`), records.
RELATED: Schema = {"anyOf": [RECORD_ID, {"type": "object"}]}


def _constrained(field: pb.Field) -> Schema:
    schema = dict(BASE.get(field.type, {}))
    if field.type == "enum" and field.values:
        schema["enum"] = list(field.values)
    if schema.get("type") in ("integer", "number"):
        if field.HasField("min"):
            schema["minimum"] = field.min
        if field.HasField("max"):
            schema["maximum"] = field.max
    if schema.get("type") == "string" and field.type not in ("datetime", "date", "uuid"):
        if field.HasField("max_length"):
            schema["maxLength"] = field.max_length
        schema["pattern"] = NO_NUL  # Postgres text cannot hold \u0000
        if field.HasField("pattern"):
            schema = {**schema, "allOf": [{"pattern": field.pattern}]}
    return schema


def nullable(schema: Schema) -> Schema:
    if not schema:
        return schema  # any JSON value, null included
    return {"anyOf": [schema, {"type": "null"}]}


def is_to_many(field: pb.Field) -> bool:
    return field.type == "relation" and field.cardinality != "many_to_one"


def value_read(field: pb.Field) -> Schema:
    """A field's value in an answer (null when unset; to-many relations are lists)."""
    if field.type == "relation":
        return {"type": "array", "items": RELATED} if is_to_many(field) else nullable(RELATED)
    return nullable(_constrained(field))


def value_written(field: pb.Field) -> Schema | None:
    """What a body may send for the field; None when it is read-only."""
    if field.type == "relation":
        if field.cardinality == "many_to_one":
            return nullable(RECORD_ID)
        if field.cardinality == "many_to_many" and not field.inverse:
            return {"type": "array", "items": RECORD_ID}
        return None  # one_to_many, and the read-only side of a many_to_many
    schema = _constrained(field)
    return schema if field.required else nullable(schema)


def filterable(field: pb.Field) -> bool:
    return field.type in BASE and not field.type.endswith("[]") and field.type != "json"


def filter_param(field: pb.Field) -> Schema:
    """`filter[f]=v`: the query-string text of one value of the field. Any text of the
    field's type may be compared (an enum or a range only limits what matches)."""
    schema = dict(BASE[field.type])
    if schema.get("type") == "string" and "format" not in schema:
        schema["pattern"] = NO_NUL
    return schema
