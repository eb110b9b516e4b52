"""S3 (and S3-compatible stores such as MinIO) through aioboto3: real presigned PUT and
GET URLs, so the bytes never pass through Plinth. Region and credentials come from the
standard AWS variables and files, read by boto itself."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError

from core.errors import Code, CoreError
from core.files.storage import CHUNK_BYTES, UploadTarget

PART_BYTES = 8 * 1024 * 1024  # a multipart upload's part (S3's least is 5 MiB)
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class S3Storage:
    def __init__(self, bucket: str, endpoint_url: str | None = None) -> None:
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._exits = contextlib.AsyncExitStack()
        self._client = None

    async def open(self) -> S3Storage:
        session = aioboto3.Session()
        self._client = await self._exits.enter_async_context(
            session.client(
                "s3",
                endpoint_url=self._endpoint_url,
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
        )
        return self

    async def close(self) -> None:
        await self._exits.aclose()

    @staticmethod
    def _key(space_id: str, file_id: str) -> str:
        return f"{space_id}/{file_id}"

    async def _presign(self, method: str, params: dict, expires: int) -> str:
        return await self._client.generate_presigned_url(
            method,
            Params={"Bucket": self._bucket, **params},
            ExpiresIn=max(1, expires - int(time.time())),
        )

    async def upload_target(
        self, space_id: str, file_id: str, size: int, mime: str, expires: int
    ) -> UploadTarget:
        params = {"Key": self._key(space_id, file_id), "ContentType": mime}
        url = await self._presign("put_object", params, expires)
        return UploadTarget(url, {"Content-Type": mime})

    async def download_url(
        self, space_id: str, file_id: str, file_name: str, mime: str, expires: int
    ) -> str:
        params = {
            "Key": self._key(space_id, file_id),
            "ResponseContentType": mime,
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(file_name)}",
        }
        return await self._presign("get_object", params, expires)

    def verify(
        self, action: str, space_id: str, file_id: str, expires: int, signature: str
    ) -> None:
        raise CoreError(Code.FORBIDDEN, "files are stored in S3; use the URL given for them")

    async def size(self, space_id: str, file_id: str) -> int | None:
        try:
            head = await self._client.head_object(
                Bucket=self._bucket, Key=self._key(space_id, file_id)
            )
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return head["ContentLength"]

    async def head(self, space_id: str, file_id: str, count: int) -> bytes:
        try:
            answer = await self._client.get_object(
                Bucket=self._bucket, Key=self._key(space_id, file_id), Range=f"bytes=0-{count - 1}"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # an empty object
            raise
        async with answer["Body"] as body:
            return await body.read()

    async def write(
        self, space_id: str, file_id: str, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        """One PUT for a small object, a multipart upload (PART_BYTES at a time) for a
        larger one; an error aborts it, so nothing partial is ever visible."""
        key = self._key(space_id, file_id)
        buffer, size, upload, parts = bytearray(), 0, None, []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise CoreError(Code.PAYLOAD_TOO_LARGE, f"more bytes than the {limit} declared")
                buffer += chunk
                if len(buffer) >= PART_BYTES:
                    if upload is None:
                        upload = await self._client.create_multipart_upload(
                            Bucket=self._bucket, Key=key
                        )
                    parts.append(await self._part(key, upload["UploadId"], len(parts) + 1, buffer))
                    buffer.clear()
            if upload is None:
                await self._client.put_object(Bucket=self._bucket, Key=key, Body=bytes(buffer))
                return size
            if buffer:
                parts.append(await self._part(key, upload["UploadId"], len(parts) + 1, buffer))
            await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload["UploadId"],
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload is not None:
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload["UploadId"]
                )
            raise
        return size

    async def _part(self, key: str, upload_id: str, number: int, data: bytearray) -> dict:
        answer = await self._client.upload_part(
            Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(data)
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def read(self, space_id: str, file_id: str) -> AsyncIterator[bytes]:
        try:
            answer = await self._client.get_object(
                Bucket=self._bucket, Key=self._key(space_id, file_id)
            )
        except ClientError as error:
            if _missing(error):
                raise CoreError(Code.NOT_FOUND, f"the bytes of file {file_id!r} are gone") from None
            raise
        async with answer["Body"] as body:
            while chunk := await body.read(CHUNK_BYTES):
                yield chunk

    async def delete(self, space_id: str, file_id: str) -> None:
        await self._client.delete_object(Bucket=self._bucket, Key=self._key(space_id, file_id))
