"""/api/v1/queue: enqueue, read, lease (long poll), ack, nack, extend, stats, dead, re-queue."""

from __future__ import annotations

from typing import Any

import orjson
from plinth.jobs import job_to_dict
from plinth.v1 import queue_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call, core_metadata, enqueue_job
from gateways.rest import render
from gateways.rest.errors import bad_request
from gateways.rest.params import INT32_MAX, INT64_MAX, integer, query_args

bp = Blueprint("queue", url_prefix="/api/v1/queue")

LEASE_TIMEOUT_MARGIN = 10.0  # seconds beyond wait_ms for a long poll's core call


def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise bad_request("malformed JSON body") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(f"unknown keys {unknown}; expected some of {sorted(allowed)}")
    return body


def _int(body: dict[str, Any], name: str, maximum: int = INT64_MAX) -> int:
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer")
    if not -maximum <= value <= maximum:
        raise bad_request(f"{name} is out of range")
    return value


def _json(body: dict[str, Any], name: str) -> bytes:
    return orjson.dumps(body[name]) if name in body else b""


def _job(job: pb.Job) -> HTTPResponse:
    return render.value(job_to_dict(job, raw=True))


@bp.post("/<topic>")
async def enqueue(request: Request, topic: str) -> HTTPResponse:
    body = _body(request, {"payload", "delay_ms", "max_attempts"})
    message = pb.EnqueueRequest(
        topic=topic,
        payload=_json(body, "payload"),
        delay_ms=_int(body, "delay_ms"),
        max_attempts=_int(body, "max_attempts", INT32_MAX),
    )
    return render.value(job_to_dict(await enqueue_job(request, message), raw=True), status=201)


@bp.get("/jobs/<job_id>")
async def get_job(request: Request, job_id: str) -> HTTPResponse:
    return _job((await call(request, "queue", "GetJob", pb.GetJobRequest(id=job_id))).job)


@bp.post("/jobs/<job_id>/ack")
async def ack(request: Request, job_id: str) -> HTTPResponse:
    body = _body(request, {"lease_id", "result"})
    message = pb.AckRequest(
        id=job_id, lease_id=_text(body, "lease_id"), result=_json(body, "result")
    )
    return _job((await call(request, "queue", "Ack", message)).job)


@bp.post("/jobs/<job_id>/nack")
async def nack(request: Request, job_id: str) -> HTTPResponse:
    body = _body(request, {"lease_id", "error", "retry_in_ms", "retry"})
    retry = body.get("retry", True)
    if not isinstance(retry, bool):
        raise bad_request("retry must be true or false")
    message = pb.NackRequest(
        id=job_id,
        lease_id=_text(body, "lease_id"),
        error=_text(body, "error"),
        retry_in_ms=_int(body, "retry_in_ms"),
        no_retry=not retry,
    )
    return _job((await call(request, "queue", "Nack", message)).job)


@bp.post("/jobs/<job_id>/extend")
async def extend(request: Request, job_id: str) -> HTTPResponse:
    body = _body(request, {"lease_id", "visibility_ms"})
    message = pb.ExtendLeaseRequest(
        id=job_id, lease_id=_text(body, "lease_id"), visibility_ms=_int(body, "visibility_ms")
    )
    return _job((await call(request, "queue", "ExtendLease", message)).job)


@bp.post("/jobs/<job_id>/requeue")
async def requeue(request: Request, job_id: str) -> HTTPResponse:
    answer = await call(request, "queue", "RequeueJob", pb.RequeueJobRequest(id=job_id))
    return _job(answer.job)


@bp.post("/<topic>/lease")
async def lease(request: Request, topic: str) -> HTTPResponse:
    body = _body(request, {"max_jobs", "visibility_ms", "wait_ms"})
    message = pb.LeaseRequest(
        topic=topic,
        max_jobs=_int(body, "max_jobs", INT32_MAX),
        visibility_ms=_int(body, "visibility_ms"),
        wait_ms=_int(body, "wait_ms"),
    )
    core = request.app.ctx.core
    timeout = max(message.wait_ms, 0) / 1000 + LEASE_TIMEOUT_MARGIN
    answer = await core.call(
        core.queue.Lease, message, metadata=core_metadata(request), timeout=timeout
    )
    return render.value([job_to_dict(job, raw=True) for job in answer.jobs])


@bp.get("/<topic>/stats")
async def stats(request: Request, topic: str) -> HTTPResponse:
    answer = await call(request, "queue", "Stats", pb.StatsRequest(topic=topic))
    names = ("queued", "leased", "done", "failed", "dead")
    return render.value({"topic": topic, **{n: getattr(answer, n) for n in names}})


@bp.get("/<topic>/dead")
async def dead(request: Request, topic: str) -> HTTPResponse:
    args = query_args(request)
    message = pb.ListDeadJobsRequest(
        topic=topic,
        page_size=integer(args, "limit", 1, INT32_MAX) or 0,
        page_token=args.get("cursor") or "",
    )
    answer = await call(request, "queue", "ListDeadJobs", message)
    return render.data(
        orjson.dumps([job_to_dict(job, raw=True) for job in answer.jobs]),
        meta={"next_cursor": answer.next_page_token or None},
    )


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    return value
