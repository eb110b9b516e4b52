"""Credentials from gRPC metadata -> Principal, with a short in-process cache.

A revoked key, a deleted user or a changed role is announced with
`NOTIFY plinth_auth`; every core process listens and drops its cache, so the
change holds at once everywhere. The cache lifetime is only the safety net for
a listener that lost its connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from core.auth import tokens
from core.auth.keys import PREFIX, hash_key, legacy_hash
from core.auth.principal import Principal
from core.errors import Code, CoreError, not_found

log = logging.getLogger("plinth.auth")

CHANNEL = "plinth_auth"
CACHE_SECONDS = 5.0
LAST_USED_EVERY_SECONDS = 30.0  # last_used_at is kept to this precision, in one write
DEFAULT_SPACE = "dev"

_KEY = """
SELECT k.id, k.project_id, k.space_id, k.role, s.name, k.hash_scheme FROM plinth.api_keys k
JOIN plinth.spaces s ON s.id = k.space_id
WHERE k.revoked_at IS NULL
  AND (k.key_hash = %(keyed)s OR (k.key_hash = %(legacy)s AND k.hash_scheme = 'sha256'))
"""
_REHASH = "UPDATE plinth.api_keys SET key_hash = %s, hash_scheme = 'hmac' WHERE id = %s"
_USER = "SELECT project_id, role FROM plinth.users WHERE id = %s"
_SPACE = "SELECT id FROM plinth.spaces WHERE project_id = %s AND name = %s"
_LAST_USED = """
UPDATE plinth.api_keys k SET last_used_at = u.at
FROM unnest(%s::text[], %s::timestamptz[]) AS u(id, at)
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
"""


def credential(metadata: dict[str, str]) -> str:
    """The key or token from `authorization: Bearer …` or `x-api-key`."""
    key = metadata.get("x-api-key", "")
    authorization = metadata.get("authorization", "")
    if not key and authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CoreError(
                Code.UNAUTHENTICATED, "Authorization must be 'Bearer <api key or access token>'"
            )
        key = token.strip()
    if not key:
        raise CoreError(
            Code.UNAUTHENTICATED,
            "missing credentials: send 'Authorization: Bearer <api key or access token>'"
            " or 'X-API-Key: <api key>'",
        )
    return key


class Authenticator:
    def __init__(self, pool: AsyncConnectionPool, pepper: bytes, token_key: bytes) -> None:
        self._pool = pool
        self._pepper = pepper
        self._token_key = token_key
        self._cache: dict[object, tuple[float, object]] = {}
        self._used: dict[str, float] = {}  # key id -> last use (epoch seconds), not yet written

    async def __call__(self, metadata: dict[str, str]) -> Principal:
        secret = credential(metadata)
        space = metadata.get("x-space", "")
        if secret.startswith(PREFIX):
            principal, space_name = await self._key(secret)
            if space and space != space_name:
                # A key is bound to its space; another space is not there for it.
                raise not_found(f"no space named {space!r} for this key")
            self._used[principal.key_id] = time.time()
            return principal
        user_id, project_id = tokens.verify(self._token_key, secret)
        role = await self._user_role(user_id, project_id)
        space_id = await self._space_id(project_id, space or DEFAULT_SPACE)
        return Principal(None, project_id, space_id, role, user_id=user_id)

    async def _cached(self, key: object, load):
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
        value = await load()
        self._cache[key] = (now + CACHE_SECONDS, value)
        return value

    async def _key(self, secret: str) -> tuple[Principal, str]:
        keyed = hash_key(secret, self._pepper)

        async def load():
            async with self._pool.connection() as conn:
                cur = await conn.execute(_KEY, {"keyed": keyed, "legacy": legacy_hash(secret)})
                row = await cur.fetchone()
                if row is not None and row[5] == "sha256":
                    await conn.execute(_REHASH, [keyed, row[0]])
            return row

        row = await self._cached(("key", keyed), load)
        if row is None:
            raise CoreError(Code.UNAUTHENTICATED, "unknown or revoked API key")
        return Principal(row[0], row[1], row[2], row[3]), row[4]

    async def _user_role(self, user_id: str, project_id: str) -> str:
        async def load():
            async with self._pool.connection() as conn:
                cur = await conn.execute(_USER, [user_id])
                return await cur.fetchone()

        row = await self._cached(("user", user_id), load)
        if row is None or row[0] != project_id:
            raise CoreError(Code.UNAUTHENTICATED, "invalid access token")
        return row[1]

    async def _space_id(self, project_id: str, name: str) -> str:
        async def load():
            async with self._pool.connection() as conn:
                cur = await conn.execute(_SPACE, [project_id, name])
                return await cur.fetchone()

        row = await self._cached(("space", project_id, name), load)
        if row is None:
            raise not_found(f"no space named {name!r}")
        return row[0]

    def invalidate(self) -> None:
        self._cache.clear()

    async def listen(self, url: str) -> None:
        """Follow other processes' revocations until cancelled; reconnects on loss."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.invalidate()  # changes may have been missed while disconnected
                    async for _ in conn.notifies():
                        self.invalidate()
            except psycopg.OperationalError as exc:
                log.warning("auth listener lost its connection (%s); retrying", exc)
                self.invalidate()
                await asyncio.sleep(1)

    async def keep_last_used(self) -> None:
        """Write the keys' last use every LAST_USED_EVERY_SECONDS (and on stop), so a
        request never writes."""
        try:
            while True:
                await asyncio.sleep(LAST_USED_EVERY_SECONDS)
                await self.flush_last_used()
        finally:
            await self.flush_last_used()

    async def flush_last_used(self) -> None:
        used, self._used = self._used, {}
        if not used:
            return
        ids = list(used)
        at = [_timestamp(used[i]) for i in ids]
        try:
            async with self._pool.connection() as conn:
                await conn.execute(_LAST_USED, [ids, at])
        except (psycopg.Error, OSError) as exc:  # best effort: the next flush tries again
            log.warning("could not record API key use (%s)", exc)
            for key_id, when in used.items():
                self._used.setdefault(key_id, when)


def _timestamp(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)
