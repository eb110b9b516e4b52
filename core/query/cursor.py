"""Keyset cursors: the position of a row (its sort keys and id), bound to its query.

A token is base64url of JSON `[fingerprint, [key, …, id]]`; the fingerprint hashes
the collection, filter, sort and search, so a cursor replayed against another
query is refused instead of silently skipping or repeating rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import orjson
from plinth.v1 import query_pb2

from core.errors import bad_request
from core.query.compile import Sort

Position = list[str | None]


def fingerprint(collection: str, where: query_pb2.Filter, sort: Sort, search: str) -> str:
    digest = hashlib.sha256()
    for part in (
        collection.encode(),
        where.SerializeToString(deterministic=True),
        repr([(column.name, descending) for column, descending in sort]).encode(),
        search.encode(),
    ):
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.hexdigest()[:16]


def encode(position: Position, query: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([query, position])).rstrip(b"=").decode()


def decode(token: str, query: str, keys: int) -> Position:
    """The position in a token from the same query, or BAD_REQUEST saying what is wrong."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        made_for, position = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad_request("invalid cursor: pass back a next_cursor exactly as received") from None
    if made_for != query:
        raise bad_request(
            "this cursor belongs to another query (its filter, sort or search differ);"
            " start again without a cursor"
        )
    valid = isinstance(position, list) and len(position) == keys
    if not valid or not all(v is None or isinstance(v, str) for v in position) or not position[-1]:
        raise bad_request("invalid cursor: pass back a next_cursor exactly as received")
    return position
