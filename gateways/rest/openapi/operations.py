"""The building blocks of operations: parameters, bodies, and one operation with its
answers and every error status."""

from __future__ import annotations

from typing import Any

from gateways.rest.openapi.components import ERROR_STATUSES
from gateways.rest.openapi.fields import Schema, nullable

JSON = "application/json"
ANY: Schema = {}
Param = dict[str, Any]


class Media(dict):
    """An answer's schemas by content type, where an answer has more than JSON."""


def param(name: str, schema: Schema, where: str = "query", **more: Any) -> Param:
    """A parameter; an empty query parameter is the same as an absent one."""
    empty = {"allowEmptyValue": True} if where == "query" else {}
    return {"name": name, "in": where, "schema": schema, **empty, **more}


def path(name: str, schema: Schema, description: str) -> Param:
    return param(name, schema, "path", required=True, description=description)


def json_param(name: str, schema: Schema, description: str, required: bool = False) -> Param:
    """A query parameter whose text is a JSON document (`filter={"price": …}`)."""
    content = {JSON: {"schema": schema}}
    return {
        "name": name,
        "in": "query",
        "content": content,
        "description": description,
        "required": required,
    }


def list_param(name: str, choices: list[str], description: str) -> Param:
    """A comma-separated list of known names (`sort=-price,name`)."""
    schema = {"type": "array", "items": {"type": "string", "enum": choices}}
    return param(name, schema, style="form", explode=False, description=description)


def body(schema: Schema, content_type: str = JSON, required: bool = True) -> dict[str, Any]:
    """A request body; an optional JSON body may also be null."""
    if not required and content_type == JSON and schema:
        schema = nullable(schema)
    return {"required": required, "content": {content_type: {"schema": schema}}}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **more: Any) -> Schema:
    """A parameter object with exactly these members; null is "not given" for the
    optional ones."""
    members = {
        name: schema if name in required or not schema else nullable(schema)
        for name, schema in properties.items()
    }
    schema: Schema = {"type": "object", "properties": members, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {**schema, **more}


def operation(
    summary: str,
    answers: dict[str, Schema | Media | None],
    *,
    params: list[Param] | None = None,
    request_body: dict[str, Any] | None = None,
    tag: str,
    public: bool = False,
) -> dict[str, Any]:
    """One operation: its answers by status (a JSON schema, schemas by content type, or
    None for no body) and every error status."""
    responses: dict[str, Any] = {}
    for status, schema in answers.items():
        answer: dict[str, Any] = {"description": summary}
        if isinstance(schema, Media):
            answer["content"] = {kind: {"schema": s} for kind, s in schema.items()}
        elif schema is not None:
            answer["content"] = {JSON: {"schema": schema}}
        responses[status] = answer
    for status in ERROR_STATUSES:
        responses.setdefault(status, {"$ref": f"#/components/responses/Error{status}"})
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if request_body:
        op["requestBody"] = request_body
    if public:
        op["security"] = []
    return op
