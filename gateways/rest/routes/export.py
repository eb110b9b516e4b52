"""GET /api/v1/{collection}/export?format=csv|json|ndjson: core's export stream, chunk by
chunk, as one chunked HTTP response (never held whole in memory)."""

from __future__ import annotations

import contextlib
import logging

from plinth import PlinthError
from plinth.formats import FORMATS
from plinth.v1 import record_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import core_metadata, request_id
from gateways.rest import filters, params
from gateways.rest.errors import bad_request

bp = Blueprint("export", url_prefix="/api/v1")
log = logging.getLogger("plinth.rest")

DEFAULT_FORMAT = "json"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}
# An export is every matching record; a large one may take long.
TIMEOUT_SECONDS = 3600


@bp.get("/<collection>/export")
async def export_records(request: Request, collection: str) -> HTTPResponse | None:
    args = params.query_args(request)
    name = args.get("format") or DEFAULT_FORMAT
    if name not in FORMATS:
        raise bad_request(f"unknown format {name!r}; use one of: {', '.join(FORMATS)}")
    if paged := [key for key in ("limit", "page", "offset", "cursor") if key in args]:
        raise bad_request(f"an export holds every matching record; drop {', '.join(paged)}")
    export_format, content_type = FORMATS[name], CONTENT_TYPES[name]
    message = pb.ExportRecordsRequest(
        collection=collection,
        filter=filters.from_args(args),
        sort=params.sort(args),
        fields=params.csv(args, "fields"),
        search=args.get("search", ""),
        format=export_format,
    )
    core = request.app.ctx.core
    stream = core.stream(
        core.records.ExportRecords,
        message,
        metadata=core_metadata(request),
        timeout=TIMEOUT_SECONDS,
    )
    async with contextlib.aclosing(stream) as chunks:
        # Core's refusals (unknown field, no permission, …) come before the first chunk,
        # while the error envelope can still be sent.
        first = await anext(chunks, None)
        response = await request.respond(
            content_type=content_type,
            headers={"Content-Disposition": f'attachment; filename="{collection}.{name}"'},
        )
        try:
            if first is not None:
                await response.send(first.chunk)
            async for piece in chunks:
                await response.send(piece.chunk)
        except PlinthError as exc:
            # The status line is gone: end the connection before the last chunk, so the
            # client sees a broken transfer rather than a complete-looking file.
            log.error(
                "export of %s broke off (request id %s): %s", collection, request_id(request), exc
            )
            request.transport.close()
            return None
        await response.eof()
    return None
