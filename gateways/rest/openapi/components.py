"""The reusable parts of the document: the error envelope, the shared answers, and
each collection's record, create and patch schemas."""

from __future__ import annotations

from plinth.v1 import schema_service_pb2 as pb

from gateways.rest.openapi.fields import (
    DATE_TIME,
    NAME,
    RECORD_ID,
    Schema,
    value_read,
    value_written,
)

ERROR_CODES = [
    "VALIDATION_ERROR",
    "BAD_REQUEST",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "CONFLICT",
    "PRECONDITION_FAILED",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "INTERNAL",
    "UNAVAILABLE",
]
ERROR_STATUSES = {
    "400": "VALIDATION_ERROR (a body that fails the collection) or BAD_REQUEST",
    "401": "UNAUTHENTICATED: missing, unknown or revoked credentials",
    "403": "FORBIDDEN: the credentials lack the permission",
    "404": "NOT_FOUND: no such collection or record",
    "409": "CONFLICT: a unique value or id taken, a schema conflict",
    "405": "BAD_REQUEST: the path takes other methods (see Allow)",
    "412": "PRECONDITION_FAILED: If-Match does not match",
    "413": "PAYLOAD_TOO_LARGE: a body or batch over its limit",
    "429": "RATE_LIMITED",
    "503": "UNAVAILABLE: core or its database unreachable",
}
OPERATORS = ("$set", "$unset", "$inc", "$push", "$pull")
NUMERIC = ("integer", "float", "decimal")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def data_of(schema: Schema, **more: Schema) -> Schema:
    """{"data": …} and, where the answer has them, more members such as meta."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": schema, **more},
    }


SHARED: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details", "request_id"],
                "properties": {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                    "request_id": {"type": "string"},
                },
            }
        },
    },
    "Deleted": data_of(
        {
            "type": "object",
            "required": ["id", "deleted"],
            "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}},
        }
    ),
    "Count": data_of(
        {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}
    ),
    "Changed": data_of(
        {
            "type": "object",
            "required": ["ids"],
            "properties": {
                "updated": {"type": "integer"},
                "deleted": {"type": "integer"},
                "ids": {"type": "array", "items": {"type": "string"}},
            },
        }
    ),
    "BatchResult": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["successful", "failed", "total_count", "success_count"],
                "properties": {
                    "successful": {"type": "array"},
                    "failed": {"type": "array", "items": {"type": "object"}},
                    "total_count": {"type": "integer"},
                    "success_count": {"type": "integer"},
                    "failure_count": {"type": "integer"},
                    "stats": {"type": "object"},
                },
            },
            "error": {"type": "object"},
        },
    },
    "ImportResult": data_of(
        {
            "type": "object",
            "required": ["inserted", "updated", "rejected", "rejected_rows", "committed"],
            "properties": {
                "inserted": {"type": "integer"},
                "updated": {"type": "integer"},
                "rejected": {"type": "integer"},
                "rejected_rows": {"type": "array", "items": {"type": "object"}},
                "committed": {"type": "boolean"},
            },
        }
    ),
    "Edge": {
        "type": "object",
        "required": ["rel", "source_collection", "source_id", "target_collection", "target_id"],
        "properties": {
            "rel": {"type": "string"},
            "source_collection": {"type": "string"},
            "source_id": {"type": "string"},
            "target_collection": {"type": "string"},
            "target_id": {"type": "string"},
            "direction": {"type": "string", "enum": ["out", "in"]},
            "properties": {"type": "object"},
            "created_at": DATE_TIME,
        },
    },
    "Collection": {
        "type": "object",
        "required": ["name", "mode", "fields"],
        "properties": {
            "name": {"type": "string"},
            "mode": {"type": "string", "enum": ["strict", "flexible"]},
            "fields": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ListMeta": {
        "type": "object",
        "description": "Offset paging: total, page, limit, pages. Cursor paging: limit,"
        " has_more, next_cursor (and total with meta=total).",
        "properties": {
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "limit": {"type": "integer"},
            "pages": {"type": "integer"},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}


def _extra(flexible: bool) -> Schema:
    """A flexible collection keeps members it does not declare, if they are names."""
    if flexible:
        return {"additionalProperties": True, "propertyNames": NAME}
    return {"additionalProperties": False}


def _patch(collection: pb.Collection, written: dict[str, Schema], flexible: bool) -> Schema:
    """Fields to change, or update operators (each field under one operator only)."""
    changeable = {name: schema for name, schema in written.items()}
    by_name = {f.name: f for f in collection.fields}
    numeric = {n: s for n, s in changeable.items() if by_name[n].type in NUMERIC}
    listed = {
        n: {"anyOf": [s["items"], s]}
        for n, s in changeable.items()
        if s.get("type") == "array" and "items" in s
    }
    optional = [n for n in changeable if not by_name[n].required]

    def members(properties: dict[str, Schema]) -> Schema:
        return {"type": "object", "properties": properties, **_extra(flexible)}

    operators: dict[str, Schema] = {
        "$set": members(changeable),
        "$unset": {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "enum": optional}},
                {
                    "type": "object",
                    "properties": {name: {} for name in optional},
                    "additionalProperties": False,
                },
            ]
        },
        "$inc": members(numeric),
        "$push": members(listed),
        "$pull": members(listed),
    }
    return {
        "description": "Fields to change, or the update operators "
        + ", ".join(OPERATORS)
        + " (a body has one form or the other; a field under one operator only).",
        "anyOf": [
            members(changeable),
            {
                "type": "object",
                "properties": operators,
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
    }


def collection_schemas(collection: pb.Collection, prefix: str) -> dict[str, Schema]:
    """`{prefix}Record` (what reads answer), `{prefix}Create` (POST bodies),
    `{prefix}Replace` (PUT bodies: the id is the path's) and `{prefix}Patch`."""
    flexible = collection.mode == pb.COLLECTION_MODE_FLEXIBLE
    read = {f.name: value_read(f) for f in collection.fields}
    written = {f.name: s for f in collection.fields if (s := value_written(f)) is not None}
    required = [
        f.name
        for f in collection.fields
        if f.required and not f.HasField("default") and f.name in written
    ]
    replace: Schema = {"type": "object", "properties": written, **_extra(flexible)}
    if required:
        replace["required"] = required
    create = {**replace, "properties": {"id": RECORD_ID, **written}}
    return {
        f"{prefix}Record": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": RECORD_ID,
                "created_at": DATE_TIME,
                "updated_at": DATE_TIME,
                **read,
            },
        },
        f"{prefix}Create": create,
        f"{prefix}Replace": replace,
        f"{prefix}Patch": _patch(collection, written, flexible),
    }
