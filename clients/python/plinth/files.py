"""File metadata and URLs as plain dicts: the shape of the REST answers, shared by the
client and the gateways."""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from plinth.v1 import file_service_pb2 as pb


def _time(message, name: str) -> str | None:
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    return stamp.ToJsonString() if message.HasField(name) else None


def file_to_dict(file: pb.File) -> dict[str, Any]:
    return {
        "id": file.id,
        "file_name": file.file_name,
        "mime_type": file.mime_type,
        "detected_mime_type": file.detected_mime_type or None,
        "size_bytes": file.size_bytes,
        "collection": file.collection or None,
        "record_id": file.record_id or None,
        "field": file.field or None,
        "created_at": _time(file, "created_at"),
        "confirmed": file.confirmed,
        "confirmed_at": _time(file, "confirmed_at"),
    }


def upload_url_to_dict(answer: pb.CreateUploadUrlResponse) -> dict[str, Any]:
    return {
        "file_id": answer.file_id,
        "upload_url": answer.upload_url,
        "method": answer.method,
        "headers": dict(answer.headers),
        "expires_at": _time(answer, "expires_at"),
    }


def download_url_to_dict(answer: pb.GetDownloadUrlResponse) -> dict[str, Any]:
    return {
        "url": answer.url,
        "file_name": answer.file_name,
        "mime_type": answer.mime_type,
        "expires_at": _time(answer, "expires_at"),
    }
