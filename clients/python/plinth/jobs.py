"""Queue jobs as plain dicts: the shape of the REST answers, shared by the client and gateways."""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import timestamp_pb2

from plinth.v1 import queue_service_pb2 as pb


def status_name(status: int) -> str:
    return pb.JobStatus.Name(status).removeprefix("JOB_STATUS_").lower()


def _time(stamp: timestamp_pb2.Timestamp, present: bool) -> str | None:
    if not present:
        return None
    return stamp.ToJsonString()


def job_to_dict(job: pb.Job, *, raw: bool = False) -> dict[str, Any]:
    """payload and result decoded from JSON (or kept as orjson Fragments with raw=True)."""

    def json_value(data: bytes) -> Any:
        if not data:
            return None
        return orjson.Fragment(data) if raw else orjson.loads(data)

    return {
        "id": job.id,
        "topic": job.topic,
        "status": status_name(job.status),
        "payload": json_value(job.payload),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "lease_id": job.lease_id or None,
        "lease_expires_at": _time(job.lease_expires_at, job.HasField("lease_expires_at")),
        "run_at": _time(job.run_at, job.HasField("run_at")),
        "last_error": job.last_error or None,
        "result": json_value(job.result),
        "created_at": _time(job.created_at, job.HasField("created_at")),
        "updated_at": _time(job.updated_at, job.HasField("updated_at")),
    }
