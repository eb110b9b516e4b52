"""What both ends of the gRPC wire agree on, whoever runs them: core's default address,
the largest message, and the integer ranges of the proto fields (int64 is also an
integer field's range: a Postgres bigint)."""

from __future__ import annotations

DEFAULT_CORE_ADDR = "127.0.0.1:50051"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
