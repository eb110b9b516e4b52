"""Each core process caches the schema of the spaces it serves.

A schema change NOTIFYs `plinth_schema` with the space id in the same
transaction; every process LISTENs and drops that space, which is reloaded
on its next use. A generation counter keeps a load that raced with a change
from storing the stale result.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from core import metrics
from core.errors import not_found
from core.schema.model import CollectionSpec, FieldSpec, SpaceSchema

log = logging.getLogger("plinth.schema")

CHANNEL = "plinth_schema"

_LOAD = """
SELECT s.schema_name, s.schema_version, coalesce((
  SELECT json_agg(json_build_object(
    'id', c.id, 'name', c.name, 'mode', c.mode,
    'fields', (SELECT coalesce(json_agg(json_build_object('name', f.name, 'spec', f.spec)
                                        ORDER BY f.position), '[]')
               FROM plinth.fields f WHERE f.collection_id = c.id)))
  FROM plinth.collections c WHERE c.space_id = s.id), '[]')
FROM plinth.spaces s WHERE s.id = %s
"""


async def load_space(conn: psycopg.AsyncConnection, space_id: str) -> SpaceSchema:
    cur = await conn.execute(_LOAD, [space_id])
    row = await cur.fetchone()
    if row is None:
        raise not_found("no such space")
    schema_name, version, collections = row
    space = SpaceSchema(space_id=space_id, schema_name=schema_name, version=version, collections={})
    for c in collections:
        space.collections[c["name"]] = CollectionSpec(
            id=c["id"],
            name=c["name"],
            mode=c["mode"],
            fields=tuple(FieldSpec.from_json(f["name"], f["spec"]) for f in c["fields"]),
            space=space,
        )
    return space


class SchemaCache:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._spaces: dict[str, SpaceSchema] = {}
        self._generation = 0

    async def space(self, space_id: str, *, fresh: bool = False) -> SpaceSchema:
        cached = None if fresh else self._spaces.get(space_id)
        metrics.CACHE_LOOKUPS.labels("schema", "miss" if cached is None else "hit").inc()
        if cached is not None:
            return cached
        generation = self._generation
        async with self._pool.connection() as conn:
            loaded = await load_space(conn, space_id)
        if generation == self._generation:
            self._spaces[space_id] = loaded
        return loaded

    async def collection(self, space_id: str, name: str) -> CollectionSpec:
        """The collection, reloading once on a miss (another process may have just made it)."""
        found = (await self.space(space_id)).collections.get(name)
        if found is None:
            found = (await self.space(space_id, fresh=True)).collections.get(name)
        if found is None:
            raise not_found(f"no collection named {name!r}")
        return found

    def invalidate(self, space_id: str | None = None) -> None:
        self._generation += 1
        if space_id is None:
            self._spaces.clear()
        else:
            self._spaces.pop(space_id, None)

    async def listen(self, url: str) -> None:
        """Follow schema changes of other processes until cancelled; reconnects on loss."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.invalidate()  # changes may have been missed while disconnected
                    async for notice in conn.notifies():
                        self.invalidate(notice.payload or None)
            except psycopg.OperationalError as exc:
                log.warning("schema listener lost its connection (%s); retrying", exc)
                self.invalidate()
                await asyncio.sleep(1)
