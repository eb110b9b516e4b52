"""What both ends of the gRPC wire agree on, whoever runs them: core's default address,
the largest message, and the integer ranges of the proto fields (int64 is also an
integer field's range: a Postgres bigint)."""

from __future__ import annotations

DEFAULT_CORE_ADDR = "127.0.0.1:50051"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Names and limits of the public contract (API.md), as JSON Schema (ECMA-262) patterns.
NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,62}$"  # collections, fields, edge names
TOPIC_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
MAX_KEY_CHARS = 512  # key-value keys
MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000  # far beyond any use, inside timestamp range
MAX_PAGE_SIZE = 1000  # list `limit`
MAX_BATCH_ITEMS = 1000
MAX_BULK_ITEMS = 500
# The queue's ranges (API.md "Queue"); 0 asks for the default where one exists.
MAX_DELAY_MS = 30 * 24 * 3600 * 1000
MAX_ATTEMPTS = 100
MIN_VISIBILITY_MS, MAX_VISIBILITY_MS = 100, 12 * 3600 * 1000
MAX_WAIT_MS = 60_000
MAX_LEASE_JOBS = 100
