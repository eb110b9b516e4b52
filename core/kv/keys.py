"""What the caller may send: key names, values, TTLs and list pages."""

from __future__ import annotations

import base64
import hashlib
import unicodedata

import orjson
from plinth.wire import MAX_KEY_CHARS, MAX_TTL_MS

from core.errors import Code, CoreError, bad_request

MAX_VALUE_BYTES = 1024 * 1024
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_BATCH_KEYS = 1000


def _forbidden(char: str) -> bool:
    """Control characters (C0, DEL, C1) and Unicode noncharacters (U+FDD0 to U+FDEF,
    U+xFFFE, U+xFFFF). Excluding U+10FFFF keeps every key below `prefix + U+10FFFF`,
    the upper bound of a prefix scan."""
    code = ord(char)
    return (
        unicodedata.category(char) == "Cc" or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE
    )


def check_key(key: str) -> str:
    if not key:
        raise bad_request("key must not be empty")
    if len(key) > MAX_KEY_CHARS:
        raise bad_request(f"key must be at most {MAX_KEY_CHARS} characters, not {len(key)}")
    if any(_forbidden(c) for c in key):
        raise bad_request("key must not contain control characters or Unicode noncharacters")
    return key


def check_prefix(prefix: str) -> str:
    if len(prefix) > MAX_KEY_CHARS:
        raise bad_request(f"prefix must be at most {MAX_KEY_CHARS} characters")
    if any(_forbidden(c) for c in prefix):
        raise bad_request("prefix must not contain control characters or Unicode noncharacters")
    return prefix


def check_value(value: bytes) -> str:
    """The JSON text to store. Oversized is PAYLOAD_TOO_LARGE, not JSON is BAD_REQUEST."""
    if len(value) > MAX_VALUE_BYTES:
        raise CoreError(
            Code.PAYLOAD_TOO_LARGE,
            f"a value may have at most {MAX_VALUE_BYTES} bytes, not {len(value)}",
        )
    if not value.strip():
        raise bad_request("the value must be JSON (send null for no value)")
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the value is not valid JSON: {exc}") from None
    if b"\\u0000" in value:
        raise bad_request("the value must not contain \\u0000 (Postgres jsonb cannot hold it)")
    return value.decode()


def check_ttl(ttl_ms: int) -> int | None:
    """Milliseconds to live, or None for no expiry (0)."""
    if ttl_ms < 0:
        raise bad_request(f"ttl must not be negative, not {ttl_ms}")
    if ttl_ms > MAX_TTL_MS:
        raise bad_request(f"ttl must be at most {MAX_TTL_MS} ms (100 years)")
    return ttl_ms or None


def check_page_size(page_size: int) -> int:
    if page_size < 0:
        raise bad_request("the page size (limit) must not be negative")
    if page_size > MAX_PAGE_SIZE:
        raise bad_request(f"the page size (limit) must be at most {MAX_PAGE_SIZE}")
    return page_size or DEFAULT_PAGE_SIZE


def _prefix_hash(prefix: str) -> str:
    return hashlib.sha256(prefix.encode()).hexdigest()[:12]


def page_token(prefix: str, last_key: str) -> str:
    raw = orjson.dumps([_prefix_hash(prefix), last_key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def after_key(prefix: str, token: str) -> str | None:
    """The last key of the previous page, or None for the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        digest, last_key = orjson.loads(raw)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise bad_request("page_token is not a token from this API") from None
    if not isinstance(last_key, str) or digest != _prefix_hash(prefix):
        raise bad_request("page_token belongs to a listing with another prefix")
    return last_key
