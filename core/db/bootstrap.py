"""First boot: project `default`, space `dev`, and the admin API key."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from psycopg import AsyncConnection

from core.auth.keys import PREFIX, generate_key, hash_key
from core.db.migrations import LOCK_KEY
from core.spaces import create_space

log = logging.getLogger("plinth.bootstrap")

DEFAULT_PROJECT = "default"
DEFAULT_SPACE = "dev"


async def bootstrap(conn: AsyncConnection, data_dir: Path, admin_key: str | None) -> None:
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
            await conn.execute(
                "INSERT INTO plinth.api_keys (project_id, space_id, name, role, key_hash)"
                " VALUES (%s, %s, 'admin (PLINTH_ADMIN_KEY)', 'admin', %s)"
                " ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL",
                [project_id, space_id, hash_key(admin_key)],
            )
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
            [project_id, space_id, hash_key(key)],
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
