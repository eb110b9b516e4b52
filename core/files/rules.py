"""What an upload may declare: name, MIME type and size, against the configured limits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import Code, CoreError, bad_request

MAX_NAME = 255
MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
DEFAULT_PAGE, MAX_PAGE = 50, 1000
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class FileRules:
    max_bytes: int
    allowed_mime_types: tuple[str, ...] = ()  # empty: any; `image/*` matches a whole type

    def check_size(self, size: int) -> int:
        if size < 0:
            raise bad_request("size_bytes must not be negative")
        if size > self.max_bytes:
            raise CoreError(
                Code.PAYLOAD_TOO_LARGE,
                f"a file may have at most {self.max_bytes} bytes, not {size}",
            )
        return size

    def allows(self, mime: str) -> bool:
        if not self.allowed_mime_types:
            return True
        kind = mime.split("/")[0] + "/*"
        return mime in self.allowed_mime_types or kind in self.allowed_mime_types

    def check_mime(self, mime: str) -> str:
        mime = mime.strip().lower() or "application/octet-stream"
        if not MIME.fullmatch(mime.split(";")[0].strip()):
            raise bad_request(f"mime_type must look like type/subtype, not {mime!r}")
        mime = mime.split(";")[0].strip()
        if not self.allows(mime):
            raise bad_request(
                f"files of type {mime} are not accepted; allowed: "
                + ", ".join(self.allowed_mime_types)
            )
        return mime


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise bad_request(f"file_name must have 1 to {MAX_NAME} characters")
    if any(ch in name for ch in "/\\") or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise bad_request("file_name must not contain '/', '\\' or control characters")
    return name


def check_id(file_id: str) -> str:
    """A file id this API could have issued; anything else is not found."""
    if not ID.fullmatch(file_id):
        raise CoreError(Code.NOT_FOUND, f"no file {file_id!r}")
    return file_id


def check_page_size(size: int) -> int:
    if size < 0 or size > MAX_PAGE:
        raise bad_request(f"the page size (limit) must be between 1 and {MAX_PAGE}")
    return size or DEFAULT_PAGE
