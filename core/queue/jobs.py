"""The queue's SQL: one statement per action, the NOTIFY inside the same statement.

A job is leasable when its status is queued, failed or leased and run_at has
passed: while leased, run_at is the lease's expiry, so an expired lease needs
no sweeper to become leasable again.
"""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2
from plinth.v1 import queue_service_pb2 as pb

CHANNEL = "plinth_queue"

COLUMNS = (
    "id, topic, payload::text, status, attempts, max_attempts, lease_id::text, run_at,"
    " last_error, result::text, created_at, updated_at"
)

STATUS = {
    "queued": pb.JOB_STATUS_QUEUED,
    "leased": pb.JOB_STATUS_LEASED,
    "done": pb.JOB_STATUS_DONE,
    "failed": pb.JOB_STATUS_FAILED,
    "dead": pb.JOB_STATUS_DEAD,
}

# The payload of a NOTIFY: "<space id> <topic> <run_at as epoch ms>".
_NOTIFY = (
    f"pg_notify('{CHANNEL}', j.space_id || ' ' || j.topic || ' '"
    " || (extract(epoch FROM j.run_at) * 1000)::bigint)"
)

ENQUEUE = f"""
WITH j AS (
  INSERT INTO plinth.jobs (space_id, topic, payload, max_attempts, run_at)
  VALUES (%s, %s, %s::jsonb, %s, now() + make_interval(secs => %s::float8 / 1000))
  RETURNING *
)
SELECT {COLUMNS}, {_NOTIFY} FROM j
"""

# One NOTIFY per topic of the batch (its earliest run_at), not one per job.
ENQUEUE_BATCH = f"""
WITH v AS MATERIALIZED (
  SELECT plinth.uuid7()::text AS id, topic, payload, max_attempts, delay_ms, n
  FROM unnest(%s::text[], %s::text[], %s::int[], %s::float8[])
       WITH ORDINALITY AS u(topic, payload, max_attempts, delay_ms, n)
), j AS (
  INSERT INTO plinth.jobs (id, space_id, topic, payload, max_attempts, run_at)
  SELECT v.id, %s, v.topic, v.payload::jsonb, v.max_attempts,
         now() + make_interval(secs => v.delay_ms / 1000)
  FROM v
  RETURNING id, space_id, topic, run_at
), n AS (
  SELECT {_NOTIFY.replace("j.run_at", "min(j.run_at)")} FROM j GROUP BY j.space_id, j.topic
)
SELECT (SELECT count(*) FROM n), (SELECT array_agg(id ORDER BY n) FROM v)
"""

ACK_BATCH = """
UPDATE plinth.jobs j SET status = 'done', result = v.result::jsonb, lease_id = NULL,
  updated_at = now()
FROM unnest(%s::text[], %s::uuid[], %s::text[]) AS v(id, lease, result)
WHERE j.id = v.id AND j.space_id = %s AND j.lease_id = v.lease AND j.status = 'leased'
  AND j.run_at > now()
RETURNING j.id
"""

GET = f"SELECT {COLUMNS} FROM plinth.jobs WHERE id = %s AND space_id = %s"

# Leases past max_attempts that expired are buried instead of handed out again
# (returned with status 'dead' and not delivered).
LEASE = f"""
UPDATE plinth.jobs j SET
  status = CASE WHEN j.status = 'leased' AND j.attempts >= j.max_attempts
                THEN 'dead' ELSE 'leased' END,
  attempts = CASE WHEN j.status = 'leased' AND j.attempts >= j.max_attempts
                  THEN j.attempts ELSE j.attempts + 1 END,
  lease_id = CASE WHEN j.status = 'leased' AND j.attempts >= j.max_attempts
                  THEN NULL ELSE gen_random_uuid() END,
  last_error = CASE WHEN j.status = 'leased' AND j.attempts >= j.max_attempts
                    THEN 'the last lease expired' ELSE j.last_error END,
  run_at = now() + make_interval(secs => %s::float8 / 1000),
  updated_at = now()
WHERE j.id IN (
  SELECT id FROM plinth.jobs
  WHERE space_id = %s AND topic = %s AND status IN ('queued', 'leased', 'failed')
    AND run_at <= now()
  ORDER BY run_at, id
  LIMIT %s
  FOR UPDATE SKIP LOCKED
)
RETURNING {COLUMNS}
"""

# When the topic next has something leasable (a delay, a retry or a lease expiring).
NEXT_DUE = """
SELECT min(run_at) FROM plinth.jobs
WHERE space_id = %s AND topic = %s AND status IN ('queued', 'leased', 'failed')
"""

ACK = f"""
UPDATE plinth.jobs SET status = 'done', result = %s::jsonb, lease_id = NULL, updated_at = now()
WHERE id = %s AND space_id = %s AND lease_id = %s AND status = 'leased' AND run_at > now()
RETURNING {COLUMNS}
"""

# Backoff: retry_in_ms when given, else 2^(attempts-1) s (at most 1 h), ±25 % jitter.
NACK = f"""
WITH j AS (
  UPDATE plinth.jobs SET
    status = CASE WHEN %(no_retry)s OR attempts >= max_attempts THEN 'dead' ELSE 'failed' END,
    last_error = %(error)s,
    lease_id = NULL,
    run_at = CASE WHEN %(no_retry)s OR attempts >= max_attempts THEN now()
             WHEN %(retry_ms)s > 0 THEN now() + make_interval(secs => %(retry_ms)s::float8 / 1000)
             ELSE now() + make_interval(secs =>
               least(3600, power(2, greatest(attempts - 1, 0))) * (0.75 + random() * 0.5))
             END,
    updated_at = now()
  WHERE id = %(id)s AND space_id = %(space)s AND lease_id = %(lease)s AND status = 'leased'
    AND run_at > now()
  RETURNING *
)
SELECT {COLUMNS}, CASE WHEN j.status = 'failed' THEN {_NOTIFY} END FROM j
"""

STATS = """
SELECT status, count(*) FROM plinth.jobs WHERE space_id = %s AND topic = %s GROUP BY status
"""

LIST_DEAD = f"""
SELECT {COLUMNS} FROM plinth.jobs
WHERE space_id = %s AND topic = %s AND status = 'dead' AND id > %s
ORDER BY id LIMIT %s
"""

REQUEUE = f"""
WITH j AS (
  UPDATE plinth.jobs SET status = 'queued', attempts = 0, run_at = now(), lease_id = NULL,
    updated_at = now()
  WHERE id = %s AND space_id = %s AND status = 'dead'
  RETURNING *
)
SELECT {COLUMNS}, {_NOTIFY} FROM j
"""


def _timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_job(row: tuple) -> pb.Job:
    (id_, topic, payload, status, attempts, max_attempts, lease, run_at, error, result,
     created, updated) = row[:12]  # fmt: skip
    leased = status == "leased"
    return pb.Job(
        id=id_,
        topic=topic,
        payload=payload.encode() if payload is not None else b"null",
        status=STATUS[status],
        attempts=attempts,
        max_attempts=max_attempts,
        lease_id=lease or "",
        lease_expires_at=_timestamp(run_at) if leased else None,
        run_at=_timestamp(run_at),
        last_error=error or "",
        result=result.encode() if result is not None else b"",
        created_at=_timestamp(created),
        updated_at=_timestamp(updated),
    )
