"""The JSON filter forms of a collection as JSON Schema: Directus (`filter=`, `where`)
and Mongo (`q=`), one operator object per filterable field (docs/query.md)."""

from __future__ import annotations

from plinth.v1 import schema_service_pb2 as pb

from gateways.rest.openapi.fields import Schema, filter_param, filterable

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
TEXT_MATCHES = ("like", "ilike", "contains", "icontains", "starts_with", "ends_with", "regex")
LOGIC_DEPTH = 1  # nesting of _and / _or described (the API takes up to 16 levels)


def _operators(field: pb.Field, sigil: str) -> Schema:
    value = filter_param(field)
    ops: dict[str, Schema] = {f"{sigil}{name}": value for name in COMPARISONS}
    ops[f"{sigil}in"] = ops[f"{sigil}nin"] = {"type": "array", "items": value}
    ops[f"{sigil}between"] = {"type": "array", "items": value, "minItems": 2, "maxItems": 2}
    ops[f"{sigil}null"] = ops[f"{sigil}exists"] = {"type": "boolean"}
    if value.get("type") == "string":
        ops.update({f"{sigil}{name}": value for name in TEXT_MATCHES})
    return {"type": "object", "properties": ops, "additionalProperties": False, "minProperties": 1}


def _form(collection: pb.Collection, sigil: str, depth: int) -> Schema:
    properties = {f.name: _operators(f, sigil) for f in collection.fields if filterable(f)}
    if depth > 0:
        nested = {"type": "array", "items": _form(collection, sigil, depth - 1), "minItems": 1}
        properties[f"{sigil}and"] = properties[f"{sigil}or"] = nested
    return {"type": "object", "properties": properties, "additionalProperties": False}


def directus(collection: pb.Collection) -> Schema:
    return _form(collection, "_", LOGIC_DEPTH)


def mongo(collection: pb.Collection) -> Schema:
    return _form(collection, "$", LOGIC_DEPTH)
