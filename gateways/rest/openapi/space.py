"""The routes every space has: schema, key-value, queue, health and this document."""

from __future__ import annotations

from typing import Any

from plinth.wire import (
    INT32_MAX,
    INT64_MAX,
    INT64_MIN,
    MAX_ATTEMPTS,
    MAX_DELAY_MS,
    MAX_PAGE_SIZE,
    MAX_TTL_MS,
    MAX_VISIBILITY_MS,
    MAX_WAIT_MS,
    MIN_VISIBILITY_MS,
)

from gateways.rest.openapi.components import data_of, ref
from gateways.rest.openapi.fields import BASE, KEY, NAME, PREFIX, TOPIC, Schema
from gateways.rest.openapi.operations import ANY, body, obj, operation, param, path

CARDINALITIES = ["many_to_one", "one_to_many", "many_to_many"]
MODES = {"type": "string", "enum": ["strict", "flexible"]}
NUMBER_OR_NULL = {"type": ["number", "null"]}
# What a field definition may say (docs/schema.md tells which settings go with which type).
FIELD_SETTINGS: dict[str, Schema] = {
    "required": {"type": "boolean"},
    "unique": {"type": "boolean"},
    "default": ANY,
    "min": NUMBER_OR_NULL,
    "max": NUMBER_OR_NULL,
    "max_length": {"type": ["integer", "null"], "minimum": 1, "maximum": INT32_MAX},
    "pattern": {"type": ["string", "null"]},
    "values": {"type": ["array", "null"], "items": {"type": "string"}},
    "index": {"type": "boolean"},
    "target": NAME,
    "cardinality": {"type": "string", "enum": CARDINALITIES},
    "inverse": NAME,
    "on_delete": {"type": "string", "enum": ["restrict", "cascade", "set_null"]},
}
FIELD = obj(
    {"name": NAME, "type": {"type": "string", "enum": [*BASE, "relation"]}, **FIELD_SETTINGS},
    ("name", "type"),
)
COLLECTION = obj(
    {"name": NAME, "mode": MODES, "fields": {"type": "array", "items": FIELD}}, ("name",)
)
KV_ENTRY = obj(
    {"key": {"type": "string"}, "value": ANY, "expires_at": {"type": ["string", "null"]}},
    ("key", "value"),
)
JOB_STATUSES = ["queued", "leased", "done", "failed", "dead"]
JOB: Schema = {
    "type": "object",
    "required": ["id", "topic", "status"],
    "properties": {
        "id": {"type": "string"},
        "topic": {"type": "string"},
        "status": {"type": "string", "enum": JOB_STATUSES},
        "attempts": {"type": "integer"},
        "max_attempts": {"type": "integer"},
        "lease_id": {"type": ["string", "null"]},
        "last_error": {"type": ["string", "null"]},
        "payload": ANY,
        "result": ANY,
    },
}
LEASE_ID = {"type": "string"}
KV_TTL = {"type": "integer", "minimum": 0, "maximum": MAX_TTL_MS}


def _range(low: int, high: int, zero_is_default: bool = False) -> Schema:
    schema = {"type": "integer", "minimum": low, "maximum": high}
    return {"anyOf": [{"const": 0}, schema]} if zero_is_default and low > 0 else schema


DELAY_MS = _range(0, MAX_DELAY_MS)
VISIBILITY_MS = _range(MIN_VISIBILITY_MS, MAX_VISIBILITY_MS, zero_is_default=True)


def _status(summary: str) -> dict[str, Any]:
    answer = obj({"status": {"type": "string"}}, ("status",))
    return {"get": operation(summary, {"200": answer}, tag="health", public=True)}


def _schema_paths() -> dict[str, Any]:
    collection = data_of(ref("Collection"))
    name = path("name", NAME, "the collection")
    return {
        "/api/v1/schema/collections": {
            "get": operation(
                "List collections",
                {"200": data_of({"type": "array", "items": ref("Collection")})},
                tag="schema",
            ),
            "post": operation(
                "Create a collection",
                {"201": collection},
                request_body=body(COLLECTION),
                tag="schema",
            ),
        },
        "/api/v1/schema/collections/{name}": {
            "parameters": [name],
            "get": operation("Get a collection", {"200": collection}, tag="schema"),
            "patch": operation(
                "Change a collection's mode",
                {"200": collection},
                request_body=body(obj({"mode": MODES}, ("mode",))),
                tag="schema",
            ),
            "delete": operation(
                "Drop a collection", {"200": data_of({"type": "object"})}, tag="schema"
            ),
        },
        "/api/v1/schema/collections/{name}/fields": {
            "parameters": [name],
            "post": operation(
                "Add a field", {"201": collection}, request_body=body(FIELD), tag="schema"
            ),
        },
        "/api/v1/schema/collections/{name}/fields/{field}": {
            "parameters": [name, path("field", NAME, "the field")],
            "patch": operation(
                "Change a field's settings (null clears one)",
                {"200": collection},
                request_body=body(obj(FIELD_SETTINGS, minProperties=1)),
                tag="schema",
            ),
            "delete": operation("Drop a field", {"200": collection}, tag="schema"),
        },
    }


def _kv_paths() -> dict[str, Any]:
    key = path("key", KEY, "the key (percent-encode / ? # %)")
    entry = data_of(KV_ENTRY)
    counted = data_of(obj({"key": {"type": "string"}, "value": {"type": "integer"}}))
    by = body(
        obj({"by": {"type": "integer", "minimum": INT64_MIN + 1, "maximum": INT64_MAX}}),
        required=False,
    )
    return {
        "/api/v1/kv": {
            "get": operation(
                "List keys by literal prefix",
                {"200": data_of({"type": "array", "items": KV_ENTRY}, meta={"type": "object"})},
                params=[
                    param("prefix", PREFIX),
                    param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
                    param("cursor", {"type": "string"}),
                ],
                tag="kv",
            )
        },
        "/api/v1/kv/{key}": {
            "parameters": [key],
            "get": operation("Read a key", {"200": entry}, tag="kv"),
            "put": operation(
                "Set a key (the body is any JSON value)",
                {"200": entry},
                params=[param("ttl", KV_TTL, description="milliseconds to live (0: for ever)")],
                request_body=body(ANY),
                tag="kv",
            ),
            "delete": operation("Delete a key", {"200": data_of({"type": "object"})}, tag="kv"),
        },
        **{
            f"/api/v1/kv/{{key}}/{action}": {
                "parameters": [key],
                "post": operation(
                    f"{action.capitalize()}ement a counter (a missing key counts from 0)",
                    {"200": counted},
                    request_body=by,
                    tag="kv",
                ),
            }
            for action in ("incr", "decr")
        },
    }


def _queue_paths() -> dict[str, Any]:
    topic = path("topic", TOPIC, "the topic")
    job_id = path("job_id", {"type": "string"}, "the job id")
    job = data_of(JOB)
    jobs = data_of({"type": "array", "items": JOB})
    attempts = _range(1, MAX_ATTEMPTS, zero_is_default=True)
    settled = {
        "ack": obj({"lease_id": LEASE_ID, "result": ANY}, ("lease_id",)),
        "nack": obj(
            {
                "lease_id": LEASE_ID,
                "error": {"type": "string"},
                "retry_in_ms": DELAY_MS,
                "retry": {"type": "boolean"},
            },
            ("lease_id",),
        ),
        "extend": obj({"lease_id": LEASE_ID, "visibility_ms": VISIBILITY_MS}, ("lease_id",)),
    }
    return {
        "/api/v1/queue/{topic}": {
            "parameters": [topic],
            "post": operation(
                "Enqueue a job",
                {"201": job},
                request_body=body(
                    obj({"payload": ANY, "delay_ms": DELAY_MS, "max_attempts": attempts}),
                    required=False,
                ),
                tag="queue",
            ),
        },
        "/api/v1/queue/{topic}/lease": {
            "parameters": [topic],
            "post": operation(
                "Lease jobs (a long poll of up to wait_ms)",
                {"200": jobs},
                request_body=body(
                    obj(
                        {
                            "max_jobs": {"type": "integer", "minimum": 0, "maximum": 100},
                            "visibility_ms": VISIBILITY_MS,
                            "wait_ms": _range(0, MAX_WAIT_MS),
                        }
                    ),
                    required=False,
                ),
                tag="queue",
            ),
        },
        "/api/v1/queue/{topic}/stats": {
            "parameters": [topic],
            "get": operation(
                "Jobs by status",
                {
                    "200": data_of(
                        obj(
                            {
                                "topic": {"type": "string"},
                                **{s: {"type": "integer"} for s in JOB_STATUSES},
                            }
                        )
                    )
                },
                tag="queue",
            ),
        },
        "/api/v1/queue/{topic}/dead": {
            "parameters": [topic],
            "get": operation(
                "Dead jobs",
                {"200": jobs},
                params=[
                    param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
                    param("cursor", {"type": "string"}),
                ],
                tag="queue",
            ),
        },
        "/api/v1/queue/jobs/{job_id}": {
            "parameters": [job_id],
            "get": operation("Read a job", {"200": job}, tag="queue"),
        },
        **{
            f"/api/v1/queue/jobs/{{job_id}}/{action}": {
                "parameters": [job_id],
                "post": operation(
                    f"{action.capitalize()} a leased job",
                    {"200": job},
                    request_body=body(schema),
                    tag="queue",
                ),
            }
            for action, schema in settled.items()
        },
        "/api/v1/queue/jobs/{job_id}/requeue": {
            "parameters": [job_id],
            "post": operation("Queue a dead job again", {"200": job}, tag="queue"),
        },
    }


def space_paths() -> dict[str, Any]:
    return {
        "/healthz": _status("The process is up"),
        "/readyz": _status("Core and its database answer"),
        "/api/v1/openapi.json": {
            "get": operation("This document", {"200": {"type": "object"}}, tag="meta")
        },
        **_schema_paths(),
        **_kv_paths(),
        **_queue_paths(),
    }
