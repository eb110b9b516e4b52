"""The MIME type of a file from its first bytes: a table of well-known signatures,
recorded beside the uploader's declared type at confirmation."""

from __future__ import annotations

HEAD_BYTES = 512  # enough for every signature below and for the text check
UNKNOWN = "application/octet-stream"

# (offset, magic bytes, MIME type), checked in order.
SIGNATURES: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\x28\xb5\x2f\xfd", "application/zstd"),
    (257, b"ustar", "application/x-tar"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
    (0, b"wOFF", "font/woff"),
    (0, b"wOF2", "font/woff2"),
    (0, b"\x00asm", "application/wasm"),
    (0, b"SQLite format 3\x00", "application/vnd.sqlite3"),
]

# RIFF containers: the form type at offset 8.
RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
# ISO base media: the major brand after `ftyp` at offset 4.
FTYP = {b"avif": "image/avif", b"heic": "image/heic", b"qt  ": "video/quicktime"}


def sniff(head: bytes) -> str:
    """The MIME type the bytes show, UNKNOWN when none fits."""
    for offset, magic, mime in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] in RIFF:
        return RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return FTYP.get(head[8:12], "video/mp4")
    return _text(head)


def _text(head: bytes) -> str:
    stripped = head.lstrip()
    lowered = stripped[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if lowered.startswith(b"<?xml"):
        return "image/svg+xml" if b"<svg" in head.lower() else "application/xml"
    if lowered.startswith(b"<svg"):
        return "image/svg+xml"
    if not head or b"\x00" in head:
        return UNKNOWN
    try:
        # A multi-byte character may be cut at the end of the head.
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return UNKNOWN
    if stripped[:1] in (b"{", b"["):
        return "application/json"
    return "text/plain"
