"""Credentials from gRPC metadata -> Principal, with a short in-process cache."""

from __future__ import annotations

import time

from psycopg_pool import AsyncConnectionPool

from core.auth.keys import PREFIX, hash_key
from core.auth.principal import Principal
from core.errors import Code, CoreError

# How long a resolved key is trusted before it is looked up again (revocations
# take at most this long to reach every process).
CACHE_SECONDS = 5.0

_LOOKUP = """
SELECT id, project_id, space_id, role FROM plinth.api_keys
WHERE key_hash = %s AND revoked_at IS NULL
"""


def credential(metadata: dict[str, str]) -> str:
    """The key from `authorization: Bearer …` or `x-api-key`."""
    key = metadata.get("x-api-key", "")
    authorization = metadata.get("authorization", "")
    if not key and authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CoreError(Code.UNAUTHENTICATED, "Authorization must be 'Bearer <api key>'")
        key = token.strip()
    if not key:
        raise CoreError(
            Code.UNAUTHENTICATED,
            "missing credentials: send 'Authorization: Bearer <api key>' or 'X-API-Key: <api key>'",
        )
    return key


class Authenticator:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    async def __call__(self, metadata: dict[str, str]) -> Principal:
        key = credential(metadata)
        if not key.startswith(PREFIX):
            raise CoreError(Code.UNAUTHENTICATED, "unknown or revoked API key")
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        async with self._pool.connection() as conn:
            cur = await conn.execute(_LOOKUP, [digest])
            row = await cur.fetchone()
        if row is None:
            self._cache.pop(digest, None)
            raise CoreError(Code.UNAUTHENTICATED, "unknown or revoked API key")
        principal = Principal(*row)
        self._cache[digest] = (now + CACHE_SECONDS, principal)
        return principal
