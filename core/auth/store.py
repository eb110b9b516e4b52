"""SQL of users, API keys and refresh tokens (schema `plinth`), and the NOTIFY that
tells every core process to forget what it cached about them."""

from __future__ import annotations

import re

from psycopg import AsyncConnection, sql

from core.auth.authenticate import CHANNEL
from core.errors import bad_request, not_found

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
MAX_KEY_NAME = 200

USER_COLUMNS = sql.SQL("id, email, role, created_at, updated_at")
KEYS = sql.SQL(
    "SELECT k.id, k.name, k.role, s.name, k.created_at, k.last_used_at, k.revoked_at"
    " FROM plinth.api_keys k JOIN plinth.spaces s ON s.id = k.space_id"
)
USER_CHANGES = ("email", "password_hash", "role")


def check_role(role: str) -> str:
    if not ROLE_NAME.match(role):
        raise bad_request(f"a role name matches {ROLE_NAME.pattern}")
    return role


def check_email(email: str) -> str:
    if not EMAIL.match(email):
        raise bad_request("email must look like name@example.com")
    return email


async def announce(conn: AsyncConnection) -> None:
    """Sent on commit of the caller's transaction, so no process sees it early."""
    await conn.execute("SELECT pg_notify(%s, '')", [CHANNEL])


async def project_id_by_name(conn: AsyncConnection, name: str) -> str | None:
    cur = await conn.execute("SELECT id FROM plinth.projects WHERE name = %s", [name])
    row = await cur.fetchone()
    return row[0] if row else None


async def space_by_name(conn: AsyncConnection, project_id: str, name: str) -> str:
    cur = await conn.execute(
        "SELECT id FROM plinth.spaces WHERE project_id = %s AND name = %s", [project_id, name]
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found(f"no space named {name!r}")
    return row[0]


async def space_name(conn: AsyncConnection, space_id: str) -> str:
    cur = await conn.execute("SELECT name FROM plinth.spaces WHERE id = %s", [space_id])
    (name,) = await cur.fetchone()
    return name


# Users


async def user_for_login(conn: AsyncConnection, project_id: str, email: str):
    """(id, password_hash) or None."""
    cur = await conn.execute(
        "SELECT id, password_hash FROM plinth.users"
        " WHERE project_id = %s AND lower(email) = lower(%s)",
        [project_id, email],
    )
    return await cur.fetchone()


async def insert_user(conn, project_id: str, email: str, password_hash: str, role: str):
    cur = await conn.execute(
        sql.SQL(
            "INSERT INTO plinth.users (project_id, email, password_hash, role)"
            " VALUES (%s, %s, %s, %s) RETURNING {}"
        ).format(USER_COLUMNS),
        [project_id, email, password_hash, role],
    )
    return await cur.fetchone()


async def users(conn: AsyncConnection, project_id: str):
    cur = await conn.execute(
        sql.SQL("SELECT {} FROM plinth.users WHERE project_id = %s ORDER BY id").format(
            USER_COLUMNS
        ),
        [project_id],
    )
    return await cur.fetchall()


async def user(conn: AsyncConnection, project_id: str, user_id: str):
    cur = await conn.execute(
        sql.SQL("SELECT {} FROM plinth.users WHERE project_id = %s AND id = %s").format(
            USER_COLUMNS
        ),
        [project_id, user_id],
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found(f"no user with id {user_id!r}")
    return row


async def update_user(conn, project_id: str, user_id: str, changes: dict[str, str]):
    """`changes` holds some of USER_CHANGES."""
    sets = [
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in USER_CHANGES
        if column in changes
    ]
    cur = await conn.execute(
        sql.SQL(
            "UPDATE plinth.users SET {}, updated_at = now()"
            " WHERE project_id = %(project)s AND id = %(id)s RETURNING {}"
        ).format(sql.SQL(", ").join(sets), USER_COLUMNS),
        {**changes, "project": project_id, "id": user_id},
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found(f"no user with id {user_id!r}")
    return row


async def delete_user(conn: AsyncConnection, project_id: str, user_id: str) -> None:
    cur = await conn.execute(
        "DELETE FROM plinth.users WHERE project_id = %s AND id = %s RETURNING id",
        [project_id, user_id],
    )
    if await cur.fetchone() is None:
        raise not_found(f"no user with id {user_id!r}")


# API keys


async def insert_key(conn, project_id: str, space_id: str, name: str, role: str, digest: bytes):
    cur = await conn.execute(
        "INSERT INTO plinth.api_keys (project_id, space_id, name, role, key_hash, hash_scheme)"
        " VALUES (%s, %s, %s, %s, %s, 'hmac') RETURNING id",
        [project_id, space_id, name, role, digest],
    )
    (key_id,) = await cur.fetchone()
    return await key(conn, project_id, key_id)


async def keys(conn: AsyncConnection, project_id: str):
    cur = await conn.execute(KEYS + sql.SQL(" WHERE k.project_id = %s ORDER BY k.id"), [project_id])
    return await cur.fetchall()


async def key(conn: AsyncConnection, project_id: str, key_id: str):
    cur = await conn.execute(
        KEYS + sql.SQL(" WHERE k.project_id = %s AND k.id = %s"), [project_id, key_id]
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found(f"no API key with id {key_id!r}")
    return row


async def revoke_key(conn: AsyncConnection, project_id: str, key_id: str):
    await conn.execute(
        "UPDATE plinth.api_keys SET revoked_at = now()"
        " WHERE project_id = %s AND id = %s AND revoked_at IS NULL",
        [project_id, key_id],
    )
    return await key(conn, project_id, key_id)
