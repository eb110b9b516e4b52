"""The queue's SQL: one statement per action, the NOTIFY inside the same statement.

A job is leasable when its status is queued, failed or leased and run_at has
passed: while leased, run_at is the lease's expiry, so an expired lease needs
no sweeper to become leasable again.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from plinth.v1 import queue_service_pb2 as pb

CHANNEL = "plinth_queue"

# A lease that expired is held by no one, though its row says 'leased' until the next lease
# statement takes the job again (or buries it). Reads say what it is: the attempt failed, and
# the job is due again (failed), or that was its last attempt (dead).
_EXPIRED = "(status = 'leased' AND run_at <= now())"
_LAST_EXPIRED = f"({_EXPIRED} AND attempts >= max_attempts)"
_STATUS = f"CASE WHEN {_LAST_EXPIRED} THEN 'dead' WHEN {_EXPIRED} THEN 'failed' ELSE status END"
_ERROR = f"CASE WHEN {_EXPIRED} THEN 'the lease expired' ELSE last_error END"
_DEAD = f"(status = 'dead' OR {_LAST_EXPIRED})"

# Times as epoch microseconds: setting a Timestamp's fields from integers costs a fifth of
# converting datetimes (to_job runs for every job handed out).
_US = "(extract(epoch FROM {0}) * 1000000)::bigint"
COLUMNS = (
    f"id, topic, payload::text, {_STATUS}, attempts, max_attempts, "
    f"CASE WHEN {_EXPIRED} THEN NULL ELSE lease_id::text END, "
    + _US.format("run_at")
    + f", {_ERROR}, result::text, "
    + _US.format("created_at")
    + ", "
    + _US.format("updated_at")
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

# One NOTIFY per topic of the batch (its earliest run_at), not one per job; the jobs come
# back in the order they were given.
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
  RETURNING *
), n AS (
  SELECT {_NOTIFY.replace("j.run_at", "min(j.run_at)")} FROM j GROUP BY j.space_id, j.topic
)
SELECT {COLUMNS}, (SELECT count(*) FROM n)
FROM (SELECT j.*, v.n AS position FROM j JOIN v ON v.id = j.id) AS j
ORDER BY j.position
"""

# Acks and nacks find their job by id. They say `(status = 'leased') IS TRUE`, which
# does not imply jobs_leasable's predicate as `status = 'leased'` would: on a table without
# statistics yet, the planner took that index and read every due job of the space (the
# whole backlog) per ack, instead of looking the ids up in the primary key.
ACK_BATCH = """
UPDATE plinth.jobs j SET status = 'done', result = v.result::jsonb, lease_id = NULL,
  updated_at = now()
FROM unnest(%s::text[], %s::uuid[], %s::text[]) AS v(id, lease, result)
WHERE j.id = v.id AND j.space_id = %s AND j.lease_id = v.lease
  AND (j.status = 'leased') IS TRUE AND j.run_at > now()
RETURNING j.id, j.topic
"""

GET = f"SELECT {COLUMNS} FROM plinth.jobs WHERE id = %s AND space_id = %s"

# Jobs come in jobs_leasable's order, so no sort: jobs due at the same moment (one
# batch's) come as the index holds them. A second sort key cost a sort of every such
# group per lease.
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
  last_error = CASE WHEN j.status = 'leased' THEN 'the lease expired' ELSE j.last_error END,
  run_at = now() + make_interval(secs => %s::float8 / 1000),
  updated_at = now()
WHERE j.id IN (
  SELECT id FROM plinth.jobs
  WHERE space_id = %s AND topic = %s AND status IN ('queued', 'leased', 'failed')
    AND run_at <= now()
  ORDER BY run_at
  LIMIT %s
  FOR UPDATE SKIP LOCKED
)
RETURNING {COLUMNS}
"""

# When the topic next has something leasable (a delay, a retry or a lease expiring).
# The first entry of jobs_leasable, read in index order: written as min(run_at), the
# planner (without statistics yet) read every due job of the topic to find it.
NEXT_DUE = """
SELECT run_at FROM plinth.jobs
WHERE space_id = %s AND topic = %s AND status IN ('queued', 'leased', 'failed')
ORDER BY run_at LIMIT 1
"""

# Ack, nack and extend act only under the job's live lease.
_HELD = """id = %(id)s AND space_id = %(space)s AND lease_id = %(lease)s
  AND (status = 'leased') IS TRUE AND run_at > now()"""

ACK = f"""
UPDATE plinth.jobs SET status = 'done', result = %(result)s::jsonb, lease_id = NULL,
  updated_at = now()
WHERE {_HELD}
RETURNING {COLUMNS}
"""

EXTEND = f"""
UPDATE plinth.jobs SET run_at = now() + make_interval(secs => %(visibility_ms)s::float8 / 1000),
  updated_at = now()
WHERE {_HELD}
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
  WHERE {_HELD}
  RETURNING *
)
SELECT {COLUMNS}, CASE WHEN j.status = 'failed' THEN {_NOTIFY} END FROM j
"""

# Counted by stored status (an index-only scan of jobs_topic_status), then the expired
# leases (found through jobs_leasable, so only due jobs are read) move from leased to
# failed or dead.
STATS = f"""
SELECT s, sum(n)::bigint FROM (
  SELECT status, count(*) FROM plinth.jobs
  WHERE space_id = %(space)s AND topic = %(topic)s GROUP BY status
  UNION ALL
  SELECT x.s, x.n FROM (
    SELECT count(*) FILTER (WHERE attempts < max_attempts) AS failed,
           count(*) FILTER (WHERE attempts >= max_attempts) AS dead
    FROM plinth.jobs WHERE space_id = %(space)s AND topic = %(topic)s AND {_EXPIRED}
  ) AS e, LATERAL (VALUES ('leased', -e.failed - e.dead), ('failed', e.failed), ('dead', e.dead))
    AS x(s, n)
) AS counts(s, n)
GROUP BY s
"""

LIST_DEAD = f"""
SELECT {COLUMNS} FROM plinth.jobs
WHERE space_id = %s AND topic = %s AND {_DEAD} AND id > %s
ORDER BY id LIMIT %s
"""

REQUEUE = f"""
WITH j AS (
  UPDATE plinth.jobs SET status = 'queued', attempts = 0, run_at = now(), lease_id = NULL,
    updated_at = now()
  WHERE id = %s AND space_id = %s AND {_DEAD}
  RETURNING *
)
SELECT {COLUMNS}, {_NOTIFY} FROM j
"""


def _set_time(stamp: timestamp_pb2.Timestamp, micros: int) -> None:
    stamp.seconds, rest = divmod(micros, 1_000_000)
    stamp.nanos = rest * 1000


def to_job(row: tuple) -> pb.Job:
    (id_, topic, payload, status, attempts, max_attempts, lease, run_at, error, result,
     created, updated) = row[:12]  # fmt: skip
    job = pb.Job(
        id=id_,
        topic=topic,
        payload=payload.encode() if payload is not None else b"null",
        status=STATUS[status],
        attempts=attempts,
        max_attempts=max_attempts,
        lease_id=lease or "",
        last_error=error or "",
        result=result.encode() if result is not None else b"",
    )
    if status == "leased":
        _set_time(job.lease_expires_at, run_at)
    _set_time(job.run_at, run_at)
    _set_time(job.created_at, created)
    _set_time(job.updated_at, updated)
    return job
