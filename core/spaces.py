"""Spaces: each (project, space) is one Postgres schema holding its collections."""

from __future__ import annotations

from psycopg import AsyncConnection, sql

from core.edges import ddl as edges_ddl


async def create_space(conn: AsyncConnection, project_id: str, name: str) -> str:
    """Create the space row and its schema; returns the space id."""
    cur = await conn.execute("SELECT plinth.uuid7()::text")
    (space_id,) = await cur.fetchone()
    schema_name = "s_" + space_id.replace("-", "")
    await conn.execute(
        "INSERT INTO plinth.spaces (id, project_id, name, schema_name) VALUES (%s, %s, %s, %s)",
        [space_id, project_id, name, schema_name],
    )
    await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
    for statement in edges_ddl.space_objects(schema_name):
        await conn.execute(statement)
    return space_id
