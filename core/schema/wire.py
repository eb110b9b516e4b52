"""Schema specs <-> their protobuf messages."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2
from plinth.v1 import schema_service_pb2 as pb

from core.errors import Code, CoreError
from core.schema.definitions import LATER_TYPES
from core.schema.model import FLEXIBLE, MANY_TO_ONE, STRICT, CollectionSpec, FieldSpec

MODE_TO_PROTO = {STRICT: pb.COLLECTION_MODE_STRICT, FLEXIBLE: pb.COLLECTION_MODE_FLEXIBLE}
MODE_FROM_PROTO = {v: k for k, v in MODE_TO_PROTO.items()}


def mode_from_proto(mode: int) -> str:
    return MODE_FROM_PROTO.get(mode, STRICT)


def value_from_proto(value: struct_pb2.Value) -> object:
    return json_format.MessageToDict(value)


def field_from_proto(field: pb.Field) -> FieldSpec:
    if field.HasField("dimensions") or field.metric:
        raise CoreError(Code.BAD_REQUEST, LATER_TYPES["vector"])
    default = value_from_proto(field.default) if field.HasField("default") else None
    return FieldSpec(
        name=field.name,
        type=field.type,
        required=field.required,
        unique=field.unique,
        default=default,
        min=field.min if field.HasField("min") else None,
        max=field.max if field.HasField("max") else None,
        max_length=field.max_length if field.HasField("max_length") else None,
        pattern=field.pattern if field.HasField("pattern") else None,
        values=tuple(field.values),
        index=field.index,
        target=field.target or None,
        cardinality=field.cardinality or None,
        inverse=field.inverse or None,
        on_delete=field.on_delete or None,
    )


def field_to_proto(spec: FieldSpec) -> pb.Field:
    out = pb.Field(
        name=spec.name,
        type=spec.type,
        required=spec.required,
        unique=spec.unique,
        values=spec.values,
        index=spec.index,
    )
    if spec.default is not None:
        json_format.ParseDict(spec.default, out.default)
    for name in ("min", "max", "max_length", "pattern", "target", "cardinality", "inverse"):
        value = getattr(spec, name)
        if value is not None:
            setattr(out, name, value)
    if spec.is_relation and spec.cardinality == MANY_TO_ONE:
        out.on_delete = spec.on_delete or ""
    return out


def collection_from_proto(collection: pb.Collection) -> CollectionSpec:
    if collection.HasField("embedding"):
        raise CoreError(Code.BAD_REQUEST, "embeddings are not available yet")
    return CollectionSpec(
        id="",
        name=collection.name,
        mode=mode_from_proto(collection.mode),
        fields=tuple(field_from_proto(f) for f in collection.fields),
    )


def collection_to_proto(spec: CollectionSpec) -> pb.Collection:
    return pb.Collection(
        name=spec.name,
        mode=MODE_TO_PROTO[spec.mode],
        fields=[field_to_proto(f) for f in spec.fields],
    )
