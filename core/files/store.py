"""The statements on plinth.files (the metadata; the bytes are the storage backend's)."""

from __future__ import annotations

from plinth.v1 import file_service_pb2 as pb

COLUMNS = (
    "id, file_name, mime_type, detected_mime_type, size_bytes, collection, record_id, field,"
    " created_at, confirmed_at"
)

CREATE = f"""
INSERT INTO plinth.files (space_id, file_name, mime_type, size_bytes, collection, record_id, field)
VALUES (%(space)s, %(file_name)s, %(mime_type)s, %(size_bytes)s, %(collection)s,
        %(record_id)s, %(field)s)
RETURNING {COLUMNS}
"""

GET = f"SELECT {COLUMNS} FROM plinth.files WHERE space_id = %(space)s AND id = %(id)s"

LOCK = GET + " FOR UPDATE"

CONFIRM = f"""
UPDATE plinth.files SET confirmed_at = now(), detected_mime_type = %(detected)s
WHERE space_id = %(space)s AND id = %(id)s
RETURNING {COLUMNS}
"""

DELETE = "DELETE FROM plinth.files WHERE space_id = %(space)s AND id = %(id)s RETURNING id"

# Newest first; ids are UUIDv7 text, so id order is creation order.
LIST = f"""
SELECT {COLUMNS} FROM plinth.files
WHERE space_id = %(space)s
  AND (%(collection)s::text IS NULL OR collection = %(collection)s)
  AND (%(after)s::text IS NULL OR id < %(after)s)
ORDER BY id DESC LIMIT %(limit)s
"""


def to_file(row: tuple) -> pb.File:
    """A plinth.files row (COLUMNS) as the File message."""
    (file_id, name, mime, detected, size, collection, record_id, field, created, confirmed) = row
    file = pb.File(
        id=file_id,
        file_name=name,
        mime_type=mime,
        detected_mime_type=detected or "",
        size_bytes=size,
        collection=collection or "",
        record_id=record_id or "",
        field=field or "",
        confirmed=confirmed is not None,
    )
    file.created_at.FromDatetime(created)
    if confirmed is not None:
        file.confirmed_at.FromDatetime(confirmed)
    return file
