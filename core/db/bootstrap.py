"""First boot: project `default`, space `dev`, and the admin API key."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from psycopg import AsyncConnection

from core.auth.keys import PREFIX, generate_key, hash_key, legacy_hash
from core.db.migrations import LOCK_KEY
from core.spaces import create_space

log = logging.getLogger("plinth.bootstrap")

DEFAULT_PROJECT = "default"
DEFAULT_SPACE = "dev"


async def bootstrap(
    conn: AsyncConnection, data_dir: Path, admin_key: str | None, pepper: bytes
) -> None:
    """The first boot's admin key is an ordinary admin-role API key: listed, and
    revocable like any other (a revoked PLINTH_ADMIN_KEY stays revoked)."""
    if admin_key and not admin_key.startswith(PREFIX):
        raise SystemExit(f"PLINTH_ADMIN_KEY must start with {PREFIX!r}, like every Plinth API key")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        cur = await conn.execute(
            "INSERT INTO plinth.projects (name) VALUES (%s)"
            " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            [DEFAULT_PROJECT],
        )
        (project_id,) = await cur.fetchone()
        cur = await conn.execute(
            "SELECT id FROM plinth.spaces WHERE project_id = %s AND name = %s",
            [project_id, DEFAULT_SPACE],
        )
        row = await cur.fetchone()
        space_id = row[0] if row else await create_space(conn, project_id, DEFAULT_SPACE)

        if admin_key:
            await _ensure_given_key(conn, project_id, space_id, admin_key, pepper)
            return
        cur = await conn.execute(
            "SELECT 1 FROM plinth.api_keys WHERE project_id = %s AND role = 'admin'"
            " AND revoked_at IS NULL",
            [project_id],
        )
        if await cur.fetchone():
            return
        key = generate_key()
        await conn.execute(
            "INSERT INTO plinth.api_keys (project_id, space_id, name, role, key_hash)"
            " VALUES (%s, %s, 'admin', 'admin', %s)",
            [project_id, space_id, hash_key(key, pepper)],
        )
    path = write_key_file(data_dir, key)
    # Printed once, on purpose: this is the only time the key is shown.
    print(f"Plinth admin API key (shown once, also saved to {path}):\n  {key}", flush=True)


def write_key_file(data_dir: Path, key: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "admin.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.chmod(path, 0o600)
    return path


async def _ensure_given_key(
    conn: AsyncConnection, project_id: str, space_id: str, key: str, pepper: bytes
) -> None:
    """Insert PLINTH_ADMIN_KEY unless it exists (a plain SHA-256 row is re-hashed)."""
    keyed = hash_key(key, pepper)
    await conn.execute(
        "UPDATE plinth.api_keys SET key_hash = %s, hash_scheme = 'hmac'"
        " WHERE key_hash = %s AND hash_scheme = 'sha256'",
        [keyed, legacy_hash(key)],
    )
    await conn.execute(
        "INSERT INTO plinth.api_keys (project_id, space_id, name, role, key_hash)"
        " VALUES (%s, %s, 'admin (PLINTH_ADMIN_KEY)', 'admin', %s)"
        " ON CONFLICT (key_hash) DO NOTHING",
        [project_id, space_id, keyed],
    )
