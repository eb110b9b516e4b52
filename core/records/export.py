"""Streaming a COPY out of Postgres in chunks sized for gRPC messages, in constant memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from plinth.v1 import query_pb2
from psycopg import AsyncCopy

CHUNK_BYTES = 256 * 1024
EXPORT_FORMATS = (
    query_pb2.EXPORT_FORMAT_CSV,
    query_pb2.EXPORT_FORMAT_JSON,
    query_pb2.EXPORT_FORMAT_NDJSON,
)


async def export_chunks(copy: AsyncCopy, as_array: bool) -> AsyncIterator[bytes]:
    """The COPY output in ~CHUNK_BYTES pieces; `as_array` turns JSON lines into one array.

    JSON lines hold no raw newline, so every newline separates two records: in
    array mode it becomes a comma, and the very last one becomes the closing
    bracket (so the last byte is held back until the stream ends).
    """
    buffer = bytearray(b"[" if as_array else b"")
    async for data in copy:
        buffer += bytes(data).replace(b"\n", b",") if as_array else data
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:-1])
            del buffer[:-1]
    if as_array:
        if buffer.endswith(b","):
            del buffer[-1:]
        buffer += b"]"
    if buffer:
        yield bytes(buffer)
