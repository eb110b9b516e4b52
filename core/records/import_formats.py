"""The formats of an import (ndjson, json, csv): chunks of a file in, (line, object) out.

A parser is fed the chunks as they arrive; each `feed` and the final `end` give an
iterator of rows, to be consumed before the next chunk is fed.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from typing import Any

import orjson
from plinth.v1 import query_pb2
from plinth.v1 import record_service_pb2 as pb

from core.errors import Code, CoreError
from core.schema.model import CollectionSpec
from core.schema.types import FIELD_TYPES

JSON_TEXT_TYPES = ("json", "string[]", "integer[]", "float[]")
Row = tuple[int, Any]  # (line, a decoded object or the CoreError of a malformed line)


class NdjsonRows:
    """One JSON value per line. The lines of a chunk are decoded a group at a time
    (iterated in C); a group with a malformed or blank line is decoded line by line."""

    GROUP = 1024

    def __init__(self) -> None:
        self.rest = b""
        self.line = 0

    def feed(self, chunk: bytes) -> Iterator[Row]:
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        return self._lines(lines)

    def end(self) -> Iterator[Row]:
        return self._lines([self.rest])

    def _lines(self, lines: list[bytes]) -> Iterator[Row]:
        start = self.line
        self.line += len(lines)
        return itertools.chain.from_iterable(self._groups(lines, start))

    def _groups(self, lines: list[bytes], start: int) -> Iterator[Iterator[Row]]:
        for at in range(0, len(lines), self.GROUP):
            group = lines[at : at + self.GROUP]
            try:
                values = list(map(orjson.loads, group))
            except orjson.JSONDecodeError:
                yield self._each(group, start + at)
            else:
                yield enumerate(values, start + at + 1)

    @staticmethod
    def _each(lines: list[bytes], start: int) -> Iterator[Row]:
        for line, text in enumerate(lines, start + 1):
            if not text.strip():
                continue
            try:
                yield line, orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield line, CoreError(Code.BAD_REQUEST, f"malformed JSON: {exc}")


class JsonRows:
    """A JSON array, parsed whole at the end (element numbers from 1 as lines)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[Row]:
        self.parts.append(chunk)
        return iter(())

    def end(self) -> Iterator[Row]:
        try:
            items = orjson.loads(b"".join(self.parts))
        except orjson.JSONDecodeError as exc:
            raise CoreError(Code.BAD_REQUEST, f"malformed JSON: {exc}") from None
        if not isinstance(items, list):
            raise CoreError(Code.BAD_REQUEST, "a JSON import is one array of records")
        return enumerate(items, start=1)


class CsvRows:
    """A header line, then one record per line; a quoted field may hold newlines."""

    def __init__(self, collection: CollectionSpec) -> None:
        self.collection = collection
        self.rest = ""
        self.pending: list[str] = []
        self.pending_quotes = 0
        self.line = 0
        self.header: list[str] | None = None

    def feed(self, chunk: bytes) -> Iterator[Row]:
        text = self.rest + chunk.decode("utf-8", errors="replace")
        lines = text.split("\n")
        self.rest = lines.pop()
        return self._records(lines)

    def end(self) -> Iterator[Row]:
        return self._records([self.rest] if self.rest else [], final=True)

    def _records(self, lines: list[str], final: bool = False) -> Iterator[Row]:
        complete: list[tuple[int, str]] = []
        for text in lines:
            self.line += 1
            self.pending.append(text)
            self.pending_quotes += text.count('"')
            if self.pending_quotes % 2 == 0:
                start = self.line - len(self.pending) + 1
                complete.append((start, "\n".join(self.pending)))
                self.pending, self.pending_quotes = [], 0
        if final and self.pending:
            complete.append((self.line - len(self.pending) + 1, "\n".join(self.pending)))
        records = csv.reader([text for _, text in complete])
        for (line, text), values in zip(complete, records, strict=True):
            if not text.strip():
                continue
            if self.header is None:
                self.header = values
                continue
            yield line, self._object(values)

    def _object(self, values: list[str]) -> dict[str, Any] | CoreError:
        if len(values) != len(self.header or ()):
            return CoreError(
                Code.BAD_REQUEST, f"{len(values)} values for {len(self.header or ())} columns"
            )
        out: dict[str, Any] = {}
        for name, text in zip(self.header or (), values, strict=True):
            spec = self.collection.by_name.get(name)
            if text == "":
                out[name] = None
            elif spec is not None and spec.type in JSON_TEXT_TYPES:
                try:
                    out[name] = orjson.loads(text)
                except orjson.JSONDecodeError:
                    return CoreError(Code.BAD_REQUEST, f"{name}: malformed JSON")
            elif spec is not None and FIELD_TYPES[spec.type].from_text is not None:
                try:
                    out[name] = FIELD_TYPES[spec.type].from_text(text)
                except ValueError as exc:
                    return CoreError(Code.VALIDATION_ERROR, f"{name}: {exc}")
            else:
                out[name] = text
        return out


Parser = NdjsonRows | JsonRows | CsvRows


def parser(request: pb.ImportRecordsRequest, collection: CollectionSpec) -> Parser:
    if request.format == query_pb2.EXPORT_FORMAT_CSV:
        return CsvRows(collection)
    if request.format == query_pb2.EXPORT_FORMAT_JSON:
        return JsonRows()
    if request.format in (query_pb2.EXPORT_FORMAT_NDJSON, query_pb2.EXPORT_FORMAT_UNSPECIFIED):
        return NdjsonRows()
    raise CoreError(Code.BAD_REQUEST, "format must be csv, json or ndjson")
