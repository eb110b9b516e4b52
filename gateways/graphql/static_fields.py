"""Root fields every generated schema has, whatever the collections: the key-value store
and the job queue. Each entry is its SDL line and its resolver;
their names are reserved, so no collection can take them (gateways/graphql/model.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from plinth import PlinthError
from plinth.jobs import job_to_dict
from plinth.v1 import kv_service_pb2 as kv_pb
from plinth.v1 import queue_service_pb2 as queue_pb

from gateways.core_client import call, enqueue_job, key_entry, set_entry

Resolve = Callable[[Any, dict[str, Any], Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class StaticField:
    root: str  # "Query" or "Mutation"
    name: str
    sdl: str  # the field definition, without the name's description
    about: str
    resolve: Resolve


# --- key-value ---------------------------------------------------------------

KV_SDL = (
    '"""A key-value entry of the caller\'s space."""\n'
    "type KvEntry {\n  key: String!\n  value: JSON\n"
    '  """When it expires (RFC 3339), or null."""\n  expiresAt: String\n}\n'
)


def _kv_entry(entry: kv_pb.KeyValueEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "value": orjson.loads(entry.value),
        "expiresAt": entry.expires_at.ToJsonString() if entry.HasField("expires_at") else None,
    }


async def _kv_get(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    try:
        entry = await key_entry(ctx.request, args["key"])
    except PlinthError as exc:
        if exc.code == "NOT_FOUND":
            return None
        raise
    return _kv_entry(entry)


async def _kv_set(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    ctx.check_writable()
    ttl = args.get("ttlMs") or 0
    if ttl < 0:
        raise PlinthError("BAD_REQUEST", "ttlMs must not be negative")
    message = kv_pb.SetKeyRequest(
        key=args["key"], value=orjson.dumps(args.get("value")), ttl_ms=ttl
    )
    return _kv_entry(await set_entry(ctx.request, message))


async def _kv_delete(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    ctx.check_writable()
    try:
        await call(ctx.request, "kv", "DeleteKey", kv_pb.DeleteKeyRequest(key=args["key"]))
    except PlinthError as exc:
        if exc.code == "NOT_FOUND":
            return False
        raise
    return True


async def _kv_increment(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    ctx.check_writable()
    by = args.get("by")  # an explicit null is not given: the default, 1
    message = kv_pb.IncrementKeyRequest(key=args["key"], by=1 if by is None else by)
    return orjson.loads((await call(ctx.request, "kv", "IncrementKey", message)).value)


# --- job queue ---------------------------------------------------------------

JOB_SDL = (
    '"""A job of the caller\'s queue (see docs/queue.md)."""\n'
    "type Job {\n  id: ID!\n  topic: String!\n"
    '  """queued, leased, done, failed or dead."""\n  status: String!\n'
    "  payload: JSON\n  attempts: Int!\n  maxAttempts: Int!\n"
    '  """When it is (next) due (RFC 3339)."""\n  runAt: String\n'
    "  lastError: String\n  result: JSON\n  createdAt: String!\n  updatedAt: String!\n}\n"
)


def _job(job: queue_pb.Job) -> dict[str, Any]:
    data = job_to_dict(job)
    return {
        "id": data["id"],
        "topic": data["topic"],
        "status": data["status"],
        "payload": data["payload"],
        "attempts": data["attempts"],
        "maxAttempts": data["max_attempts"],
        "runAt": data["run_at"],
        "lastError": data["last_error"],
        "result": data["result"],
        "createdAt": data["created_at"],
        "updatedAt": data["updated_at"],
    }


async def _enqueue(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    ctx.check_writable()
    message = queue_pb.EnqueueRequest(
        topic=args["topic"],
        payload=orjson.dumps(args.get("payload")),
        delay_ms=args.get("delayMs") or 0,
        max_attempts=args.get("maxAttempts") or 0,
    )
    return _job(await enqueue_job(ctx.request, message))


async def _job_by_id(parent: Any, args: dict[str, Any], ctx: Any, info: Any) -> Any:
    try:
        answer = await call(ctx.request, "queue", "GetJob", queue_pb.GetJobRequest(id=args["id"]))
    except PlinthError as exc:
        if exc.code == "NOT_FOUND":
            return None
        raise
    return _job(answer.job)


STATIC_SDL: list[str] = [KV_SDL, JOB_SDL]
STATIC_TYPES: frozenset[str] = frozenset({"KvEntry", "Job"})

STATIC_FIELDS: list[StaticField] = [
    StaticField("Query", "kvGet", "kvGet(key: String!): KvEntry", "The entry, or null.", _kv_get),
    StaticField(
        "Mutation",
        "kvSet",
        "kvSet(key: String!, value: JSON, ttlMs: BigInt): KvEntry!",
        "Create or replace an entry; ttlMs 0 or absent: it never expires.",
        _kv_set,
    ),
    StaticField(
        "Mutation",
        "kvDelete",
        "kvDelete(key: String!): Boolean!",
        "True when the key existed.",
        _kv_delete,
    ),
    StaticField(
        "Mutation",
        "kvIncrement",
        "kvIncrement(key: String!, by: BigInt = 1): JSON!",
        "Add `by` (negative to subtract) atomically; a missing key counts from 0.",
        _kv_increment,
    ),
    StaticField("Query", "job", "job(id: ID!): Job", "A job of the queue, or null.", _job_by_id),
    StaticField(
        "Mutation",
        "enqueue",
        "enqueue(topic: String!, payload: JSON, delayMs: BigInt, maxAttempts: Int): Job!",
        "Add a job to the queue `topic` (due after delayMs; maxAttempts 0 or absent: 5).",
        _enqueue,
    ),
]


def static_lines(root: str) -> list[str]:
    """The SDL lines of the static fields of `root`, with their descriptions."""
    return [f'"""{f.about}"""\n  {f.sdl}' for f in STATIC_FIELDS if f.root == root]


def static_names(root: str) -> set[str]:
    return {f.name for f in STATIC_FIELDS if f.root == root}
