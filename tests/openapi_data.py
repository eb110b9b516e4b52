"""A space with a collection of every field type, for the OpenAPI document's tests."""

from __future__ import annotations

import httpx

AUTHORS = {"name": "authors", "fields": [{"name": "name", "type": "string", "required": True}]}
EVERY_TYPE = {
    "name": "everything",
    "fields": [
        {"name": "s", "type": "string", "max_length": 20, "pattern": "^[a-z]*$"},
        {"name": "t", "type": "text"},
        {"name": "i", "type": "integer", "min": 0, "max": 100},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "decimal"},
        {"name": "b", "type": "boolean", "required": True, "default": False},
        {"name": "dt", "type": "datetime"},
        {"name": "da", "type": "date"},
        {"name": "u", "type": "uuid"},
        {"name": "j", "type": "json"},
        {"name": "e", "type": "enum", "values": ["a", "b"]},
        {"name": "sa", "type": "string[]"},
        {"name": "ia", "type": "integer[]"},
        {"name": "fa", "type": "float[]"},
        {"name": "code", "type": "string", "unique": True},
        {"name": "author", "type": "relation", "target": "authors", "cardinality": "many_to_one"},
        {"name": "tags", "type": "relation", "target": "authors", "cardinality": "many_to_many"},
    ],
}
LOOSE = {"name": "loose", "mode": "flexible", "fields": [{"name": "title", "type": "string"}]}


def create_collections(rest: httpx.Client) -> None:
    for body in (AUTHORS, EVERY_TYPE, LOOSE):
        answer = rest.post("/api/v1/schema/collections", json=body)
        assert answer.status_code == 201, answer.text
    rest.post("/api/v1/authors", json={"id": "a1", "name": "Ann"}).raise_for_status()
    rest.post(
        "/api/v1/everything", json={"id": "e1", "s": "abc", "author": "a1"}
    ).raise_for_status()
