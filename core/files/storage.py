"""The one interface of the storage backends (local disk, S3). Objects are named by
space and file id; the backends hold bytes only, the metadata lives in plinth.files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

CHUNK_BYTES = 1024 * 1024  # bytes per read and per streamed message


@dataclass(frozen=True)
class UploadTarget:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "PUT"


class Storage(Protocol):
    async def upload_target(
        self, space_id: str, file_id: str, size: int, mime: str, expires: int
    ) -> UploadTarget:
        """Where the caller PUTs the bytes, valid until `expires` (Unix seconds)."""

    async def download_url(
        self, space_id: str, file_id: str, file_name: str, mime: str, expires: int
    ) -> str: ...

    async def size(self, space_id: str, file_id: str) -> int | None:
        """The stored object's size, None when there is none."""

    async def head(self, space_id: str, file_id: str, count: int) -> bytes:
        """The object's first `count` bytes (fewer when it is shorter)."""

    async def write(
        self, space_id: str, file_id: str, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        """Store the bytes as the object, whole or not at all; more than `limit` bytes is
        PAYLOAD_TOO_LARGE and stores nothing. Returns the size."""

    def read(self, space_id: str, file_id: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks."""

    async def delete(self, space_id: str, file_id: str) -> None:
        """Remove the object; nothing to remove is fine."""

    def verify(
        self, action: str, space_id: str, file_id: str, expires: int, signature: str
    ) -> None:
        """FORBIDDEN unless this backend signed a URL for exactly this (local disk only)."""

    async def close(self) -> None: ...
