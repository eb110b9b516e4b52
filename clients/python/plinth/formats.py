"""The names of the file formats and import modes, as the REST API and the CLI spell
them, -> their wire enums."""

from __future__ import annotations

from plinth.v1 import query_pb2, record_service_pb2

FORMATS = {
    "csv": query_pb2.EXPORT_FORMAT_CSV,
    "json": query_pb2.EXPORT_FORMAT_JSON,
    "ndjson": query_pb2.EXPORT_FORMAT_NDJSON,
}
IMPORT_MODES = {
    "all_or_nothing": record_service_pb2.IMPORT_MODE_ALL_OR_NOTHING,
    "skip_invalid": record_service_pb2.IMPORT_MODE_SKIP_INVALID,
}
