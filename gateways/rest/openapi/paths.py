"""The record routes of each collection, as API.md and docs/rest.md give them; what a
route accepts beyond its schema (one way of paging at a time, a field changed by one
operator only) is in its description."""

from __future__ import annotations

from typing import Any

from plinth.formats import FORMATS, IMPORT_MODES
from plinth.v1 import schema_service_pb2 as pb
from plinth.wire import INT32_MAX, INT64_MAX, MAX_BATCH_ITEMS, MAX_BULK_ITEMS, MAX_PAGE_SIZE

from gateways.rest.openapi import filters
from gateways.rest.openapi.components import data_of, ref
from gateways.rest.openapi.fields import NAME, RECORD_ID, filter_param, filterable
from gateways.rest.openapi.operations import (
    ANY,
    Media,
    Param,
    body,
    json_param,
    list_param,
    obj,
    operation,
    param,
    path,
)

EXPORT_TYPES = {"json": "application/json", "csv": "text/csv", "ndjson": "application/x-ndjson"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
RECORD_ID_PARAM = path("id", RECORD_ID, "the record id")
IF_MATCH = param(
    "If-Match", {"type": "string"}, "header", description='an ETag ("3"), or * for any version'
)
PAGING = [
    param("limit", LIMIT),
    param("page", {"type": "integer", "minimum": 1, "maximum": INT32_MAX}),
    param("offset", {"type": "integer", "minimum": 0, "maximum": INT64_MAX}),
    param(
        "cursor",
        {"type": "string"},
        description="cursor paging: empty for the first page, then each next_cursor"
        " (with the same filters; not together with page or offset)",
    ),
    param("meta", {"type": "string", "enum": ["total"]}),
]


def _filters(collection: pb.Collection, required: bool = False) -> list[Param]:
    """Every filter dialect of the list routes (docs/query.md). The routes that change
    many records require a filter: there the Directus form is the required one."""
    equal = [
        param(f"filter[{f.name}]", filter_param(f), description=f"{f.name} equals")
        for f in collection.fields
        if filterable(f)
    ]
    directus = filters.directus(collection)
    if required:
        directus = {**directus, "minProperties": 1}
    return [
        *equal,
        json_param(
            "filter",
            directus,
            'The Directus form, e.g. {"price": {"_gt": 10}}. Also filter[f][op]=v with op one'
            " of eq ne gt gte lt lte in nin between like ilike contains icontains starts_with"
            " ends_with null exists regex (in, nin, between: comma-separated).",
            required=required,
        ),
        json_param("q", filters.mongo(collection), 'The Mongo form: {"price": {"$gt": 10}}'),
        param("search", {"type": "string"}, description="case-insensitive text search"),
    ]


def _names(collection: pb.Collection) -> list[str]:
    return ["id", "created_at", "updated_at", *(f.name for f in collection.fields)]


def _sort(collection: pb.Collection) -> Param:
    names = _names(collection)
    return list_param("sort", names + [f"-{n}" for n in names], "sort keys, - for descending")


def _fields(collection: pb.Collection) -> Param:
    return list_param("fields", ["*", *_names(collection)], "the fields to answer (author.*)")


def _query_body(collection: pb.Collection) -> dict[str, Any]:
    sort, fields = _sort(collection)["schema"], _fields(collection)["schema"]
    return body(
        obj(
            {
                "where": {"anyOf": [filters.directus(collection), filters.mongo(collection)]},
                "sort": sort,
                "fields": fields,
                "search": {"type": "string"},
                "limit": LIMIT,
                "page": PAGING[1]["schema"],
                "offset": PAGING[2]["schema"],
                "cursor": {"type": "string"},
                "meta": {"type": "string", "enum": ["total"]},
            }
        ),
        required=False,
    )


def _items(schema: Any, most: int) -> dict[str, Any]:
    return body(
        obj(
            {"items": {"type": "array", "items": schema, "minItems": 1, "maxItems": most}},
            ("items",),
        )
    )


def collection_paths(collection: pb.Collection, prefix: str) -> dict[str, Any]:
    c = tag = collection.name
    record, create = ref(f"{prefix}Record"), ref(f"{prefix}Create")
    replace, patch = ref(f"{prefix}Replace"), ref(f"{prefix}Patch")
    listed = data_of({"type": "array", "items": record}, meta=ref("ListMeta"))
    filtered, sort, fields = _filters(collection), _sort(collection), _fields(collection)
    by_filter = _filters(collection, required=True)
    batch = ref("BatchResult")
    base = f"/api/v1/{c}"
    return {
        base: {
            "get": operation(
                f"List {c}", {"200": listed}, params=[*filtered, sort, fields, *PAGING], tag=tag
            ),
            "post": operation(
                f"Create a {c} record", {"201": data_of(record)}, request_body=body(create), tag=tag
            ),
            "patch": operation(
                f"Update the {c} records a filter matches (at most 1000)",
                {"200": ref("Changed")},
                params=by_filter,
                request_body=body(patch),
                tag=tag,
            ),
            "delete": operation(
                f"Delete the {c} records a filter matches (at most 1000)",
                {"200": ref("Changed")},
                params=by_filter,
                tag=tag,
            ),
        },
        f"{base}/count": {
            "get": operation(f"Count {c}", {"200": ref("Count")}, params=filtered, tag=tag)
        },
        f"{base}/query": {
            "post": operation(
                f"List {c} with the query DSL in a body (one way of paging at a time)",
                {"200": listed},
                request_body=_query_body(collection),
                tag=tag,
            )
        },
        f"{base}/export": {
            "get": operation(
                f"Export {c} (streamed)",
                {"200": Media({kind: ANY for kind in EXPORT_TYPES.values()})},
                params=[
                    *filtered,
                    sort,
                    fields,
                    param("format", {"type": "string", "enum": list(FORMATS)}),
                ],
                tag=tag,
            )
        },
        f"{base}/import": {
            "post": operation(
                f"Import {c} from a csv, json or ndjson file (streamed)",
                {"200": ref("ImportResult")},
                params=[
                    param("format", {"type": "string", "enum": list(FORMATS)}),
                    param("mode", {"type": "string", "enum": list(IMPORT_MODES)}),
                ],
                request_body=body({"type": "string"}, "application/octet-stream", required=False),
                tag=tag,
            )
        },
        f"{base}/batch": {
            "post": operation(
                f"Create {c} records, all or none",
                {"200": batch},
                request_body=_items(create, MAX_BATCH_ITEMS),
                tag=tag,
            ),
            "patch": operation(
                f"Update {c} records, all or none (each id once)",
                {"200": batch},
                request_body=_items(
                    obj(
                        {
                            "id": RECORD_ID,
                            "data": patch,
                            "expected_version": {"type": "integer", "minimum": 1},
                        },
                        ("id", "data"),
                    ),
                    MAX_BATCH_ITEMS,
                ),
                tag=tag,
            ),
            "delete": operation(
                f"Delete {c} records, all or none",
                {"200": batch},
                request_body=body(
                    obj(
                        {
                            "ids": {
                                "type": "array",
                                "items": RECORD_ID,
                                "minItems": 1,
                                "maxItems": MAX_BATCH_ITEMS,
                            }
                        },
                        ("ids",),
                    )
                ),
                tag=tag,
            ),
        },
        f"{base}/bulk": {
            "post": operation(
                f"Create or update {c} records by id",
                {"200": batch},
                request_body=_items(create, MAX_BULK_ITEMS),
                tag=tag,
            )
        },
        f"{base}/{{id}}": {
            "parameters": [RECORD_ID_PARAM],
            "get": operation(
                f"Get a {c} record", {"200": data_of(record)}, params=[fields], tag=tag
            ),
            "patch": operation(
                f"Change fields of a {c} record",
                {"200": data_of(record)},
                params=[IF_MATCH],
                request_body=body(patch),
                tag=tag,
            ),
            "put": operation(
                f"Replace a {c} record (creates it when absent)",
                {"200": data_of(record), "201": data_of(record)},
                params=[IF_MATCH],
                request_body=body(replace),
                tag=tag,
            ),
            "delete": operation(
                f"Soft-delete a {c} record", {"200": ref("Deleted")}, params=[IF_MATCH], tag=tag
            ),
        },
        f"{base}/{{id}}/restore": {
            "parameters": [RECORD_ID_PARAM],
            "post": operation(
                f"Undo the soft delete of a {c} record", {"200": data_of(record)}, tag=tag
            ),
        },
        **_edge_paths(base, tag),
    }


def _edge_paths(base: str, tag: str) -> dict[str, Any]:
    rel = path("rel", NAME, "the edge name")
    edge = data_of(ref("Edge"))
    return {
        f"{base}/{{id}}/relationships/{{rel}}": {
            "parameters": [RECORD_ID_PARAM, rel],
            "get": operation(
                "List named edges",
                {"200": data_of({"type": "array", "items": ref("Edge")})},
                params=[
                    param("direction", {"type": "string", "enum": ["out", "in", "both"]}),
                    param("limit", LIMIT),
                ],
                tag=tag,
            ),
            "post": operation(
                "Create a named edge",
                {"201": edge},
                request_body=body(
                    obj(
                        {
                            "target_id": RECORD_ID,
                            "target_collection": {"anyOf": [NAME, {"const": ""}]},
                            "properties": {"type": "object"},
                        },
                        ("target_id",),
                    )
                ),
                tag=tag,
            ),
        },
        f"{base}/{{id}}/relationships/{{rel}}/{{target_id}}": {
            "parameters": [
                RECORD_ID_PARAM,
                rel,
                path("target_id", RECORD_ID, "the target record's id"),
                param("target_collection", NAME, description="default: the only such edge"),
            ],
            "patch": operation(
                "Merge properties into a named edge",
                {"200": edge},
                request_body=body(obj({"properties": {"type": "object"}}, ("properties",))),
                tag=tag,
            ),
            "delete": operation(
                "Delete a named edge",
                {"200": data_of(obj({"deleted": {"type": "boolean"}}))},
                tag=tag,
            ),
        },
    }
