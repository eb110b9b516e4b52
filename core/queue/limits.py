"""What a queue request may ask for; anything else is BAD_REQUEST (or 413 for size)."""

from __future__ import annotations

import re
import uuid

import orjson

# Re-exported: the ranges are the contract's, and this module is where core reads them.
from plinth.wire import MAX_ATTEMPTS as MAX_ATTEMPTS
from plinth.wire import MAX_DELAY_MS as MAX_DELAY_MS
from plinth.wire import MAX_LEASE_JOBS as MAX_LEASE_JOBS
from plinth.wire import MAX_VISIBILITY_MS as MAX_VISIBILITY_MS
from plinth.wire import MAX_WAIT_MS as MAX_WAIT_MS
from plinth.wire import MIN_VISIBILITY_MS as MIN_VISIBILITY_MS
from plinth.wire import TOPIC_PATTERN

from core.errors import Code, CoreError, bad_request, not_found

TOPIC = re.compile(TOPIC_PATTERN.strip("^$"))
RESERVED_TOPICS = {"jobs"}  # /api/v1/queue/jobs/{id} is the job route
INTERNAL_PREFIX = "_plinth."  # core's own topics; callers cannot name them

MAX_PAYLOAD_BYTES = 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_VISIBILITY_MS = 30_000
DEFAULT_IN_FLIGHT = 10
MAX_IN_FLIGHT = 1000
DEFAULT_PAGE = 50
MAX_PAGE = 1000
MAX_ERROR_CHARS = 10_000
MAX_BATCH = 1000


def topic(name: str) -> str:
    if not TOPIC.fullmatch(name) or name in RESERVED_TOPICS:
        raise bad_request(
            f"topic {name[:100]!r} must match ^[A-Za-z0-9][A-Za-z0-9._:-]{{0,99}}$"
            " and not be 'jobs'"
        )
    return name


def job_id(value: str) -> str:
    """A job id is a UUID; anything else names no job."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found(f"no job {value[:100]!r}") from None


def lease_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None  # matches no lease: CONFLICT


def json_bytes(name: str, data: bytes) -> str | None:
    """Checked JSON text for a jsonb column (None for empty)."""
    if not data:
        return None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise CoreError(
            Code.PAYLOAD_TOO_LARGE, f"{name} is {len(data)} bytes; at most {MAX_PAYLOAD_BYTES}"
        )
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        raise bad_request(f"{name} is not valid JSON") from None
    if b"\\u0000" in data:
        raise bad_request(f"{name} may not contain the NUL character (\\u0000)")
    return data.decode()


def ranged(name: str, value: int, low: int, high: int, default: int | None = None) -> int:
    if value == 0 and default is not None:
        return default
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}, not {value}")
    return value
