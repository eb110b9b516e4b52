"""The OpenAPI 3.1 document of a space, generated from its collections.

Every request asks core for the caller's collections, so the document follows schema
changes at once in every process; the rendered bytes are kept per space and schema
version.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
from plinth.v1 import schema_service_pb2 as pb

from gateways.rest.openapi.components import ERROR_STATUSES, SHARED, collection_schemas, ref
from gateways.rest.openapi.operations import JSON
from gateways.rest.openapi.paths import collection_paths
from gateways.rest.openapi.space import space_paths

MAX_CACHED = 64
_rendered: OrderedDict[tuple[str, int], bytes] = OrderedDict()


def document(answer: pb.ListCollectionsResponse) -> dict[str, Any]:
    schemas = dict(SHARED)
    paths = space_paths()
    for collection in sorted(answer.collections, key=lambda c: c.name):
        prefix = f"{collection.name}."  # `.` cannot be part of a collection name
        schemas.update(collection_schemas(collection, prefix))
        paths.update(collection_paths(collection, prefix))
    errors = {
        f"Error{status}": {"description": meaning, "content": {JSON: {"schema": ref("Error")}}}
        for status, meaning in ERROR_STATUSES.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Plinth API",
            "version": str(answer.schema_version),
            "description": "The REST API of one space: its collections as of schema version"
            f" {answer.schema_version}. Errors use one envelope; see each status.",
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": errors,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def rendered(answer: pb.ListCollectionsResponse) -> bytes:
    key = (answer.space_id, answer.schema_version)
    body = _rendered.get(key)
    if body is None:
        body = _rendered[key] = orjson.dumps(document(answer))
        if len(_rendered) > MAX_CACHED:
            _rendered.popitem(last=False)
    return body
