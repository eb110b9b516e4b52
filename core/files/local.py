"""Local disk: objects under <data dir>/files/<space id>/<file id>, moved through the REST
gateway by URLs with an expiring HMAC signature (the gateway streams their bytes to and
from core, which checks the signature and does the disk I/O)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlencode

from core.errors import Code, CoreError
from core.files.signing import Signer
from core.files.storage import CHUNK_BYTES, UploadTarget

# The REST gateway's route for a file's bytes; a path, which the gateway makes absolute
# (or under base_url when one is configured).
CONTENT_PATH = "/api/v1/files/{file_id}/content"
PUT, GET = "put", "get"


class LocalStorage:
    def __init__(self, root: Path, signer: Signer, base_url: str = "") -> None:
        self._root = root
        self._signer = signer
        self._base_url = base_url.rstrip("/")

    def _path(self, space_id: str, file_id: str) -> Path:
        return self._root / space_id / file_id

    def _url(self, action: str, space_id: str, file_id: str, expires: int) -> str:
        query = urlencode(
            {
                "space": space_id,
                "expires": expires,
                "signature": self._signer.sign(action, space_id, file_id, expires),
            }
        )
        return self._base_url + CONTENT_PATH.format(file_id=quote(file_id)) + "?" + query

    async def upload_target(
        self, space_id: str, file_id: str, size: int, mime: str, expires: int
    ) -> UploadTarget:
        return UploadTarget(self._url(PUT, space_id, file_id, expires), {"Content-Type": mime})

    async def download_url(
        self, space_id: str, file_id: str, file_name: str, mime: str, expires: int
    ) -> str:
        return self._url(GET, space_id, file_id, expires)

    def verify(
        self, action: str, space_id: str, file_id: str, expires: int, signature: str
    ) -> None:
        self._signer.verify(action, space_id, file_id, expires, signature)

    async def size(self, space_id: str, file_id: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(space_id, file_id).stat)).st_size
        except FileNotFoundError:
            return None

    async def head(self, space_id: str, file_id: str, count: int) -> bytes:
        def read() -> bytes:
            with open(self._path(space_id, file_id), "rb") as file:
                return file.read(count)

        return await asyncio.to_thread(read)

    async def write(
        self, space_id: str, file_id: str, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        """Into a hidden part file, fsynced and renamed into place when complete: a crash
        or an error midway never leaves a partial object under the file's name."""
        final = self._path(space_id, file_id)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        part = final.with_name(f".{file_id}.{secrets.token_hex(4)}.part")
        file = await asyncio.to_thread(open, part, "wb")
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise CoreError(Code.PAYLOAD_TOO_LARGE, f"more bytes than the {limit} declared")
                await asyncio.to_thread(file.write, chunk)
            await asyncio.to_thread(_sync_and_close, file)
            await asyncio.to_thread(os.replace, part, final)
        except BaseException:
            file.close()
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            raise
        return size

    async def read(self, space_id: str, file_id: str) -> AsyncIterator[bytes]:
        try:
            file = await asyncio.to_thread(open, self._path(space_id, file_id), "rb")
        except FileNotFoundError:
            raise CoreError(Code.NOT_FOUND, f"the bytes of file {file_id!r} are gone") from None
        with file:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk

    async def delete(self, space_id: str, file_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(space_id, file_id).unlink)

    async def close(self) -> None:
        pass


def _sync_and_close(file) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
