"""`plinth import` and `plinth export`: files to and from a collection over gRPC, with a
progress line on stderr (stdout stays the data)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import orjson
from plinth import AsyncClient
from plinth.formats import FORMATS, IMPORT_MODES
from plinth.v1 import record_service_pb2 as pb

from launcher.settings import Credentials

CHUNK_BYTES = 256 * 1024
TIMEOUT_SECONDS = 24 * 3600


def _client() -> AsyncClient:
    credentials = Credentials.from_env()
    return AsyncClient(credentials.core_addr, api_key=credentials.api_key)


class Progress:
    """One line on stderr, redrawn at most ten times a second."""

    def __init__(self, what: str, total: int | None = None) -> None:
        self.what, self.total, self.done = what, total, 0
        self.started = self.shown = time.monotonic()

    def advance(self, size: int) -> None:
        self.done += size
        now = time.monotonic()
        if now - self.shown >= 0.1:
            self.shown = now
            self._draw()

    def _draw(self, end: str = "") -> None:
        mib = self.done / 2**20
        rate = mib / max(time.monotonic() - self.started, 1e-6)
        if self.total:
            share = self.done / self.total
            bar = "#" * int(share * 30)
            line = f"{self.what} [{bar:<30}] {share:6.1%} {mib:8.1f} MiB {rate:6.1f} MiB/s"
        else:
            line = f"{self.what} {mib:8.1f} MiB {rate:6.1f} MiB/s"
        print(f"\r{line}", end=end, file=sys.stderr, flush=True)

    def finish(self) -> None:
        self._draw(end="\n")


def format_of(path: Path, given: str | None) -> str:
    name = given or path.suffix.lstrip(".").lower()
    if name not in FORMATS:
        raise SystemExit(f"plinth: say --format (one of: {', '.join(FORMATS)})")
    return name


async def import_file(path: Path, size: int, collection: str, fmt: str, mode: str) -> int:
    progress = Progress(f"import {path.name}", size)

    async def messages() -> AsyncIterator[pb.ImportRecordsRequest]:
        yield pb.ImportRecordsRequest(
            collection=collection, format=FORMATS[fmt], mode=IMPORT_MODES[mode]
        )
        with path.open("rb") as source:
            while chunk := source.read(CHUNK_BYTES):
                progress.advance(len(chunk))
                yield pb.ImportRecordsRequest(chunk=chunk)

    async with _client() as client:
        answer = await client.call(
            client.records.ImportRecords, messages(), timeout=TIMEOUT_SECONDS
        )
    progress.finish()
    summary = {
        "inserted": answer.inserted,
        "updated": answer.updated,
        "rejected": answer.rejected,
        "committed": answer.committed,
        "rejected_rows": orjson.loads(answer.rejected_rows or b"[]"),
    }
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0 if answer.committed else 1


async def export_collection(collection: str, fmt: str, out: BinaryIO) -> int:
    progress = Progress(f"export {collection}")
    request = pb.ExportRecordsRequest(collection=collection, format=FORMATS[fmt])
    async with _client() as client:
        async for piece in client.stream(
            client.records.ExportRecords, request, timeout=TIMEOUT_SECONDS
        ):
            out.write(piece.chunk)
            progress.advance(len(piece.chunk))
    out.flush()
    progress.finish()
    return 0


def run_import(file: str, collection: str, fmt: str | None, mode: str) -> int:
    path = Path(file)
    size = path.stat().st_size
    return asyncio.run(import_file(path, size, collection, format_of(path, fmt), mode))


def run_export(collection: str, fmt: str) -> int:
    return asyncio.run(export_collection(collection, fmt, sys.stdout.buffer))
