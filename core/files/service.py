"""FileService: upload URLs, confirmation, download URLs, metadata, and the bytes of the
local backend's signed URLs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from plinth.v1 import file_service_pb2 as pb
from plinth.v1 import file_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current
from core.errors import Code, CoreError, bad_request, not_found
from core.files import rules, store
from core.files.local import GET, PUT
from core.files.rules import FileRules
from core.files.sniff import HEAD_BYTES, sniff
from core.files.storage import Storage
from core.kv.keys import after_key, page_token

# Servicer methods a signed URL authorizes instead of credentials (core/interceptors.py).
SIGNED_METHODS = frozenset(
    f"/plinth.v1.FileService/{name}" for name in ("WriteSignedContent", "ReadSignedContent")
)
MAX_SCOPE = 255  # characters of collection, record_id and field


def _scope(request: pb.CreateUploadUrlRequest) -> dict[str, str | None]:
    values = {}
    for name in ("collection", "record_id", "field"):
        value = getattr(request, name)
        if len(value) > MAX_SCOPE:
            raise bad_request(f"{name} must have at most {MAX_SCOPE} characters")
        values[name] = value or None
    return values


class FileServicer(rpc.FileServiceServicer):
    def __init__(
        self,
        pool: AsyncConnectionPool,
        storage: Storage,
        file_rules: FileRules,
        url_seconds: int,
    ) -> None:
        self._pool = pool
        self._storage = storage
        self._rules = file_rules
        self._url_seconds = url_seconds

    async def _row(self, space: str, file_id: str) -> tuple:
        rules.check_id(file_id)
        async with self._pool.connection() as conn:
            cur = await conn.execute(store.GET, {"space": space, "id": file_id})
            row = await cur.fetchone()
        if row is None:
            raise not_found(f"no file {file_id!r}")
        return row

    async def _confirmed(self, space: str, file_id: str) -> pb.File:
        file = store.to_file(await self._row(space, file_id))
        if not file.confirmed:
            raise not_found(f"file {file_id!r} is not confirmed yet")
        return file

    def _expires(self) -> int:
        return int(time.time()) + self._url_seconds

    async def CreateUploadUrl(
        self, request: pb.CreateUploadUrlRequest, context
    ) -> pb.CreateUploadUrlResponse:
        space = current().space_id
        params = {
            "space": space,
            "file_name": rules.check_name(request.file_name),
            "mime_type": self._rules.check_mime(request.mime_type),
            "size_bytes": self._rules.check_size(request.size_bytes),
            **_scope(request),
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(store.CREATE, params)
            file = store.to_file(await cur.fetchone())
        expires = self._expires()
        target = await self._storage.upload_target(
            space, file.id, file.size_bytes, file.mime_type, expires
        )
        answer = pb.CreateUploadUrlResponse(
            file_id=file.id, upload_url=target.url, method=target.method, headers=target.headers
        )
        answer.expires_at.FromSeconds(expires)
        return answer

    async def ConfirmUpload(
        self, request: pb.ConfirmUploadRequest, context
    ) -> pb.ConfirmUploadResponse:
        space, file_id = current().space_id, rules.check_id(request.file_id)
        key = {"space": space, "id": file_id}
        async with self._pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(store.LOCK, key)).fetchone()
            if row is None:
                raise not_found(f"no file {file_id!r}")
            file = store.to_file(row)
            if file.confirmed:
                return pb.ConfirmUploadResponse(file=file)
            size = await self._storage.size(space, file_id)
            if size is None:
                raise bad_request(f"nothing was uploaded for file {file_id!r}")
            if size != file.size_bytes:
                raise bad_request(
                    f"the upload has {size} bytes but {file.size_bytes} were declared"
                )
            detected = sniff(await self._storage.head(space, file_id, HEAD_BYTES))
            cur = await conn.execute(store.CONFIRM, {**key, "detected": detected})
            return pb.ConfirmUploadResponse(file=store.to_file(await cur.fetchone()))

    async def GetDownloadUrl(
        self, request: pb.GetDownloadUrlRequest, context
    ) -> pb.GetDownloadUrlResponse:
        space = current().space_id
        file = await self._confirmed(space, request.file_id)
        expires = self._expires()
        url = await self._storage.download_url(
            space, file.id, file.file_name, file.mime_type, expires
        )
        answer = pb.GetDownloadUrlResponse(
            url=url, file_name=file.file_name, mime_type=file.mime_type
        )
        answer.expires_at.FromSeconds(expires)
        return answer

    async def GetFile(self, request: pb.GetFileRequest, context) -> pb.GetFileResponse:
        row = await self._row(current().space_id, request.file_id)
        return pb.GetFileResponse(file=store.to_file(row))

    async def ListFiles(self, request: pb.ListFilesRequest, context) -> pb.ListFilesResponse:
        size = rules.check_page_size(request.page_size)
        scope = "files:" + request.collection
        params = {
            "space": current().space_id,
            "collection": request.collection or None,
            "after": after_key(scope, request.page_token),
            "limit": size + 1,
        }
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(store.LIST, params)).fetchall()
        answer = pb.ListFilesResponse(
            files=[store.to_file(row) for row in rows[:size]], page_size=size
        )
        if len(rows) > size:
            answer.next_page_token = page_token(scope, rows[size - 1][0])
        return answer

    async def DeleteFile(self, request: pb.DeleteFileRequest, context) -> pb.DeleteFileResponse:
        """The metadata goes first: a crash before the object is removed leaves an orphan
        object, never metadata that names bytes which are gone."""
        space, file_id = current().space_id, rules.check_id(request.file_id)
        async with self._pool.connection() as conn:
            cur = await conn.execute(store.DELETE, {"space": space, "id": file_id})
            if await cur.fetchone() is None:
                raise not_found(f"no file {file_id!r}")
        await self._storage.delete(space, file_id)
        return pb.DeleteFileResponse(file_id=file_id, deleted=True)

    def _verify(self, action: str, signature: pb.ContentSignature) -> None:
        self._storage.verify(
            action, signature.space, signature.file_id, signature.expires, signature.signature
        )

    async def WriteSignedContent(
        self, request_iterator: AsyncIterator[pb.WriteSignedContentRequest], context
    ) -> pb.WriteSignedContentResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("signature"):
            raise bad_request("the first message must carry the URL's signature")
        signed = first.signature
        self._verify(PUT, signed)
        file = store.to_file(await self._row(signed.space, signed.file_id))
        if file.confirmed:
            raise CoreError(Code.CONFLICT, f"file {file.id!r} is confirmed; its bytes are final")

        async def chunks() -> AsyncIterator[bytes]:
            async for message in request_iterator:
                yield message.chunk

        size = await self._storage.write(signed.space, file.id, chunks(), file.size_bytes)
        return pb.WriteSignedContentResponse(file_id=file.id, received_bytes=size)

    async def ReadSignedContent(
        self, request: pb.ReadSignedContentRequest, context
    ) -> AsyncIterator[pb.ReadSignedContentResponse]:
        signed = request.signature
        self._verify(GET, signed)
        file = await self._confirmed(signed.space, signed.file_id)
        yield pb.ReadSignedContentResponse(file=file)
        async for chunk in self._storage.read(signed.space, file.id):
            yield pb.ReadSignedContentResponse(chunk=chunk)
