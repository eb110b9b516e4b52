"""Collection and field definitions: REST JSON <-> schema protos."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from plinth.v1 import schema_service_pb2 as pb

from gateways.rest.errors import bad_request

# Keys a field definition always shows, null when unset (as in API.md's example body).
NULLABLE_KEYS = ("default", "min", "max", "max_length", "pattern", "dimensions")
MODES = {"strict": pb.COLLECTION_MODE_STRICT, "flexible": pb.COLLECTION_MODE_FLEXIBLE}
MODE_NAMES = {v: k for k, v in MODES.items()}


def mode_from_json(mode: Any) -> int:
    if mode is None:
        return pb.COLLECTION_MODE_STRICT
    if not isinstance(mode, str) or mode not in MODES:
        raise bad_request("mode must be 'strict' or 'flexible'")
    return MODES[mode]


def field_from_json(body: Any) -> pb.Field:
    if not isinstance(body, dict):
        raise bad_request("a field definition must be a JSON object")
    try:
        return json_format.ParseDict(body, pb.Field())
    except json_format.ParseError as exc:
        raise bad_request(f"invalid field definition: {exc}") from None


def collection_from_json(body: Any) -> pb.Collection:
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    body = dict(body)
    mode = mode_from_json(body.pop("mode", None))
    fields = body.pop("fields", None) or []
    if not isinstance(fields, list):
        raise bad_request("fields must be a list")
    try:
        collection = json_format.ParseDict(body, pb.Collection())
    except json_format.ParseError as exc:
        raise bad_request(f"invalid collection definition: {exc}") from None
    collection.mode = mode
    collection.fields.extend(field_from_json(f) for f in fields)
    return collection


def field_to_json(field: pb.Field) -> dict[str, Any]:
    out = json_format.MessageToDict(
        field, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    out = {k: v for k, v in out.items() if v != ""}  # unset relation/vector settings
    for key in NULLABLE_KEYS:
        out.setdefault(key, None)
    return out


def collection_to_json(collection: pb.Collection) -> dict[str, Any]:
    return {
        "name": collection.name,
        "mode": MODE_NAMES.get(collection.mode, "strict"),
        "fields": [field_to_json(f) for f in collection.fields],
    }
