"""/api/v1/files: upload and download URLs, metadata, and the bytes of the local backend's
signed URLs, streamed to and from core in chunks (never held whole in memory)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

import orjson
from plinth import PlinthError
from plinth.files import download_url_to_dict, file_to_dict, upload_url_to_dict
from plinth.v1 import file_service_pb2 as pb
from plinth.wire import INT32_MAX, INT64_MAX
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call, core_metadata, request_id
from gateways.rest import params, render
from gateways.rest.body import json_object
from gateways.rest.errors import bad_request

bp = Blueprint("files", url_prefix="/api/v1/files")
log = logging.getLogger("plinth.rest")

UPLOAD_KEYS = ("file_name", "mime_type", "size_bytes", "collection", "record_id", "field")
CHUNK_BYTES = 1024 * 1024  # bytes per message to core: fewer, larger messages go faster
TRANSFER_TIMEOUT_SECONDS = 3600  # a large file over a slow link takes long


def absolute(request: Request, url: str) -> str:
    """Core gives local-disk URLs as paths of this gateway; callers get them whole."""
    return f"{request.scheme}://{request.host}{url}" if url.startswith("/") else url


@bp.post("/upload-url")
async def upload_url(request: Request) -> HTTPResponse:
    body = json_object(request, UPLOAD_KEYS)
    for name in UPLOAD_KEYS:
        value = body.get(name)
        wanted = int if name == "size_bytes" else str
        if value is not None and (isinstance(value, bool) or not isinstance(value, wanted)):
            raise bad_request(f"{name} must be {'an integer' if wanted is int else 'a string'}")
    if "size_bytes" not in body or "file_name" not in body:
        raise bad_request("file_name and size_bytes are required")
    body["size_bytes"] = params.bounded("size_bytes", body["size_bytes"], 0, INT64_MAX)
    answer = await call(request, "files", "CreateUploadUrl", pb.CreateUploadUrlRequest(**body))
    data = upload_url_to_dict(answer)
    data["upload_url"] = absolute(request, data["upload_url"])
    return render.value(data)


@bp.post("/<file_id>/confirm")
async def confirm(request: Request, file_id: str) -> HTTPResponse:
    answer = await call(request, "files", "ConfirmUpload", pb.ConfirmUploadRequest(file_id=file_id))
    return render.value(file_to_dict(answer.file))


@bp.get("/<file_id>/download-url")
async def download_url(request: Request, file_id: str) -> HTTPResponse:
    message = pb.GetDownloadUrlRequest(file_id=file_id)
    data = download_url_to_dict(await call(request, "files", "GetDownloadUrl", message))
    data["url"] = absolute(request, data["url"])
    return render.value(data)


@bp.get("/<file_id>")
async def get_file(request: Request, file_id: str) -> HTTPResponse:
    answer = await call(request, "files", "GetFile", pb.GetFileRequest(file_id=file_id))
    return render.value(file_to_dict(answer.file))


@bp.get("")
async def list_files(request: Request) -> HTTPResponse:
    args = params.query_args(request)
    message = pb.ListFilesRequest(
        collection=args.get("collection", ""),
        page_size=params.integer(args, "limit", 1, INT32_MAX) or 0,
        page_token=args.get("cursor", ""),
    )
    answer = await call(request, "files", "ListFiles", message)
    meta = {
        "limit": answer.page_size,
        "has_more": bool(answer.next_page_token),
        "next_cursor": answer.next_page_token or None,
    }
    return render.data(orjson.dumps([file_to_dict(f) for f in answer.files]), meta=meta)


@bp.delete("/<file_id>")
async def delete_file(request: Request, file_id: str) -> HTTPResponse:
    await call(request, "files", "DeleteFile", pb.DeleteFileRequest(file_id=file_id))
    return HTTPResponse(status=204)


def _signature(request: Request, file_id: str) -> pb.ContentSignature:
    """The signed URL's parts; a missing or malformed one fails the signature check."""
    args = params.query_args(request)
    expires = args.get("expires", "")
    return pb.ContentSignature(
        file_id=file_id,
        space=args.get("space", ""),
        expires=int(expires) if expires.isdigit() and int(expires) <= INT64_MAX else 0,
        signature=args.get("signature", ""),
    )


@bp.put("/<file_id>/content", stream=True)
async def put_content(request: Request, file_id: str) -> HTTPResponse:
    """A local upload URL: the bytes go to core as they arrive; core checks the signature
    and the declared size, so the body limit does not apply."""
    request.stream.request_max_size = float("inf")
    signature = _signature(request, file_id)

    async def messages() -> AsyncIterator[pb.WriteSignedContentRequest]:
        yield pb.WriteSignedContentRequest(signature=signature)
        buffer = bytearray()
        while (chunk := await request.stream.read()) is not None:
            buffer += chunk
            if len(buffer) >= CHUNK_BYTES:
                yield pb.WriteSignedContentRequest(chunk=bytes(buffer))
                buffer.clear()
        if buffer:
            yield pb.WriteSignedContentRequest(chunk=bytes(buffer))

    core = request.app.ctx.core
    answer = await core.call(
        core.files.WriteSignedContent,
        messages(),
        metadata=core_metadata(request),
        timeout=TRANSFER_TIMEOUT_SECONDS,
    )
    return render.value({"file_id": answer.file_id, "received_bytes": answer.received_bytes})


@bp.get("/<file_id>/content")
async def get_content(request: Request, file_id: str) -> HTTPResponse | None:
    """A local download URL: core's chunks, written out as they come."""
    core = request.app.ctx.core
    stream = core.stream(
        core.files.ReadSignedContent,
        pb.ReadSignedContentRequest(signature=_signature(request, file_id)),
        metadata=core_metadata(request),
        timeout=TRANSFER_TIMEOUT_SECONDS,
    )
    async with contextlib.aclosing(stream) as parts:
        # A refused signature or a missing file comes first, while the envelope can be sent.
        file = (await anext(parts)).file
        response = await request.respond(
            content_type=file.mime_type,
            headers={
                "Content-Length": str(file.size_bytes),
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file.file_name)}",
                "X-Content-Type-Options": "nosniff",
            },
        )
        try:
            async for part in parts:
                await response.send(part.chunk)
        except PlinthError as exc:
            log.error(
                "download of %s broke off (request id %s): %s", file_id, request_id(request), exc
            )
            request.transport.close()
            return None
        await response.eof()
    return None
