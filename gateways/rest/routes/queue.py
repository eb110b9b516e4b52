"""/api/v1/queue: enqueue, read, lease (long poll), ack, nack, extend, stats, dead, re-queue."""

from __future__ import annotations

from typing import Any

import orjson
from plinth.jobs import job_to_dict
from plinth.v1 import queue_service_pb2 as pb
from plinth.wire import INT32_MAX, INT64_MAX
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call, core_metadata, enqueue_job
from gateways.rest import params, render
from gateways.rest.body import integer, json_object, text_member
from gateways.rest.errors import bad_request

bp = Blueprint("queue", url_prefix="/api/v1/queue")

LEASE_TIMEOUT_MARGIN = 10.0  # seconds beyond wait_ms for a long poll's core call


def _int(body: dict[str, Any], name: str, wire_max: int = INT64_MAX) -> int:
    """An integer member (0: absent), pinned into its proto type; core owns the range
    and refuses what is outside it (every queue range is far inside the wire's)."""
    return max(-wire_max, min(integer(body, name), wire_max))


def _json(body: dict[str, Any], name: str) -> bytes:
    return orjson.dumps(body[name]) if name in body else b""


def _job(job: pb.Job) -> HTTPResponse:
    return render.value(job_to_dict(job, raw=True))


@bp.post("/<topic>")
async def enqueue(request: Request, topic: str) -> HTTPResponse:
    body = json_object(request, ("payload", "delay_ms", "max_attempts"))
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
    body = json_object(request, ("lease_id", "result"))
    message = pb.AckRequest(
        id=job_id, lease_id=text_member(body, "lease_id"), result=_json(body, "result")
    )
    return _job((await call(request, "queue", "Ack", message)).job)


@bp.post("/jobs/<job_id>/nack")
async def nack(request: Request, job_id: str) -> HTTPResponse:
    body = json_object(request, ("lease_id", "error", "retry_in_ms", "retry"))
    retry = body.get("retry", True)
    if not isinstance(retry, bool):
        raise bad_request("retry must be true or false")
    message = pb.NackRequest(
        id=job_id,
        lease_id=text_member(body, "lease_id"),
        error=text_member(body, "error"),
        retry_in_ms=_int(body, "retry_in_ms"),
        no_retry=not retry,
    )
    return _job((await call(request, "queue", "Nack", message)).job)


@bp.post("/jobs/<job_id>/extend")
async def extend(request: Request, job_id: str) -> HTTPResponse:
    body = json_object(request, ("lease_id", "visibility_ms"))
    message = pb.ExtendLeaseRequest(
        id=job_id, lease_id=text_member(body, "lease_id"), visibility_ms=_int(body, "visibility_ms")
    )
    return _job((await call(request, "queue", "ExtendLease", message)).job)


@bp.post("/jobs/<job_id>/requeue")
async def requeue(request: Request, job_id: str) -> HTTPResponse:
    answer = await call(request, "queue", "RequeueJob", pb.RequeueJobRequest(id=job_id))
    return _job(answer.job)


@bp.post("/<topic>/lease")
async def lease(request: Request, topic: str) -> HTTPResponse:
    body = json_object(request, ("max_jobs", "visibility_ms", "wait_ms"))
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
    args = params.query_args(request)
    message = pb.ListDeadJobsRequest(
        topic=topic,
        page_size=params.integer(args, "limit", 1, INT32_MAX) or 0,
        page_token=args.get("cursor") or "",
    )
    answer = await call(request, "queue", "ListDeadJobs", message)
    return render.data(
        orjson.dumps([job_to_dict(job, raw=True) for job in answer.jobs]),
        meta={"next_cursor": answer.next_page_token or None},
    )
