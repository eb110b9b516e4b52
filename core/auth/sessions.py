"""Refresh tokens: one family per login, rotated on every use.

A spent token presented again means a copy is in other hands: the whole family
is revoked, so the thief and the user both have to log in again.
"""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection

from core.auth.keys import generate_refresh_token, hash_key
from core.errors import Code, CoreError

INVALID = "invalid or expired refresh token"


async def issue(
    conn: AsyncConnection, pepper: bytes, user_id: str, lifetime: float, family_id: str | None
) -> str:
    """A new refresh token of `family_id` (None: a new family, for a login)."""
    token = generate_refresh_token()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lifetime)
    await conn.execute(
        "INSERT INTO plinth.refresh_tokens (user_id, family_id, token_hash, expires_at)"
        " VALUES (%s, coalesce(%s, plinth.uuid7()::text), %s, %s)",
        [user_id, family_id, hash_key(token, pepper), expires],
    )
    return token


async def spend(conn: AsyncConnection, pepper: bytes, token: str) -> tuple[str, str] | None:
    """(user id, family id) of a live token, now spent; None when the token is not
    valid. Reuse of a spent one revokes its family, in this transaction."""
    cur = await conn.execute(
        "SELECT id, user_id, family_id, spent_at IS NOT NULL, revoked_at IS NOT NULL,"
        " expires_at <= now() FROM plinth.refresh_tokens WHERE token_hash = %s FOR UPDATE",
        [hash_key(token, pepper)],
    )
    row = await cur.fetchone()
    if row is None:
        return None
    token_id, user_id, family_id, spent, revoked, expired = row
    if spent and not revoked:
        await revoke_family(conn, family_id)
        return None
    if revoked or expired:
        return None
    await conn.execute(
        "UPDATE plinth.refresh_tokens SET spent_at = now() WHERE id = %s", [token_id]
    )
    return user_id, family_id


async def revoke_family(conn: AsyncConnection, family_id: str) -> int:
    cur = await conn.execute(
        "UPDATE plinth.refresh_tokens SET revoked_at = now()"
        " WHERE family_id = %s AND revoked_at IS NULL",
        [family_id],
    )
    return cur.rowcount


async def revoke_for_user(conn: AsyncConnection, pepper: bytes, user_id: str, token: str) -> int:
    """Revoke the family of `token` if it is the user's, or every family with no token."""
    if not token:
        cur = await conn.execute(
            "UPDATE plinth.refresh_tokens SET revoked_at = now()"
            " WHERE user_id = %s AND revoked_at IS NULL",
            [user_id],
        )
        return cur.rowcount
    cur = await conn.execute(
        "SELECT family_id FROM plinth.refresh_tokens WHERE token_hash = %s AND user_id = %s",
        [hash_key(token, pepper), user_id],
    )
    row = await cur.fetchone()
    return await revoke_family(conn, row[0]) if row else 0


def refused() -> CoreError:
    return CoreError(Code.UNAUTHENTICATED, INVALID)
