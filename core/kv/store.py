"""The SQL of the key-value store: one statement per action, values as parameters.

Writes may NOTIFY `plinth_kv` in the same statement (so the notice commits with
the write) when processes keep caches of their own; see core.kv.cache.
"""

from __future__ import annotations

from psycopg import AsyncConnection, sql

_LIVE = "(expires_at IS NULL OR expires_at > now())"
_MS = "(extract(epoch FROM {0}) * 1000)::bigint"

GET = sql.SQL(
    "SELECT key, value::text, " + _MS.format("expires_at") + " FROM plinth.kv"
    " WHERE space_id = %(space)s AND key = ANY(%(keys)s::text[]) AND " + _LIVE
)

# Many entries in one statement (one key at most once: ON CONFLICT cannot update a row
# twice); a lone SetKey is a batch of one.
_SET = (
    "INSERT INTO plinth.kv (space_id, key, value, expires_at)"
    " SELECT %(space)s, u.key, u.value::jsonb, now() + u.ttl * interval '1 millisecond'"
    " FROM unnest(%(keys)s::text[], %(values)s::text[], %(ttls)s::bigint[]) AS u(key, value, ttl)"
    " ON CONFLICT (space_id, key) DO UPDATE"
    " SET value = excluded.value, expires_at = excluded.expires_at, updated_at = now()"
    " RETURNING key, value::text AS value, " + _MS.format("expires_at") + " AS expires_ms"
)

# A missing or expired entry counts from 0; any other non-number updates nothing (CONFLICT).
_INCREMENT = (
    "INSERT INTO plinth.kv AS k (space_id, key, value)"
    " VALUES (%(space)s, %(key)s, to_jsonb(%(by)s::numeric))"
    " ON CONFLICT (space_id, key) DO UPDATE SET"
    " value = CASE WHEN k.expires_at <= now() THEN excluded.value"
    " ELSE to_jsonb(k.value::numeric + %(by)s::numeric) END,"
    " expires_at = CASE WHEN k.expires_at <= now() THEN NULL ELSE k.expires_at END,"
    " updated_at = now()"
    " WHERE jsonb_typeof(k.value) = 'number' OR k.expires_at <= now()"
    " RETURNING key, value::text AS value, NULL::bigint AS expires_ms"
)

_DELETE = (
    "DELETE FROM plinth.kv WHERE space_id = %(space)s AND key = %(key)s"
    " RETURNING key, " + _LIVE + " AS value, NULL::bigint AS expires_ms"
)

# Keys are COLLATE "C" (code point order), so every key starting with the prefix lies in
# [prefix, prefix || U+10FFFF): keys never contain U+10FFFF (core.kv.keys).
_LIST = (
    "SELECT key, value::text, " + _MS.format("expires_at") + " FROM plinth.kv"
    " WHERE space_id = %(space)s AND key >= %(prefix)s AND key < %(prefix)s || chr(1114111)"
    " AND starts_with(key, %(prefix)s) AND " + _LIVE + "{after}"
    " ORDER BY key LIMIT %(limit)s"
)
LIST_FIRST = sql.SQL(_LIST.format(after=""))
LIST_AFTER = sql.SQL(_LIST.format(after=" AND key > %(after)s"))


def _write(statement: str, notify: bool) -> sql.SQL:
    """A write answering (key, value, expires_ms) per entry written."""
    if not notify:
        return sql.SQL(statement)
    return sql.SQL(
        "WITH w AS (" + statement + ") SELECT key, value, expires_ms,"
        " pg_notify(%(channel)s, 'i:' || %(space)s || chr(31) || key) FROM w"
    )


class Statements:
    """The write statements, with or without the NOTIFY for per-process caches."""

    def __init__(self, notify: bool) -> None:
        self.set = _write(_SET, notify)
        self.increment = _write(_INCREMENT, notify)
        self.delete = _write(_DELETE, notify)


async def sweep_expired(conn: AsyncConnection, batch: int = 10_000) -> int:
    """Delete entries that expired (reads already ignore them); returns how many.

    Small batches keep each statement short; call it from a periodic task or a job.
    """
    total = 0
    while True:
        cur = await conn.execute(
            "DELETE FROM plinth.kv WHERE ctid = ANY (ARRAY("
            " SELECT ctid FROM plinth.kv WHERE expires_at <= now() LIMIT %s))",
            [batch],
        )
        total += cur.rowcount
        if cur.rowcount < batch:
            return total
