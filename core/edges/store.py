"""The SQL of named edges: one statement per action, names as identifiers, values as
parameters. Each answer is finished JSON text built by Postgres."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from psycopg import sql

from core.edges.ddl import edges_table

OUT = "out"
IN = "in"

Statement = tuple[sql.Composed, dict[str, Any]]

_COLUMNS = sql.SQL("rel, source_collection, source_id, target_collection, target_id")
# One edge as its JSON object has it; `direction` is as seen from the request's record.
_EDGE = sql.SQL("{}, {} AS direction, properties, created_at")
_KEY = sql.SQL(
    "rel = %(rel)s AND source_collection = %(source_collection)s AND source_id = %(source_id)s"
    " AND target_collection = %(target_collection)s AND target_id = %(target_id)s"
)
# The edges of a record, by direction: it is their source (out) or their target (in).
_TOUCHING = {
    OUT: sql.SQL("source_collection = %(collection)s AND source_id = %(id)s AND rel = %(rel)s"),
    IN: sql.SQL("target_collection = %(collection)s AND target_id = %(id)s AND rel = %(rel)s"),
}
# Oldest first; the rest only makes the order of edges made together stable.
_ORDER = sql.SQL(
    "created_at, direction, source_collection, source_id, target_collection, target_id"
)


@dataclass(frozen=True)
class EdgeKey:
    """One edge: its name and both ends."""

    rel: str
    source_collection: str
    source_id: str
    target_collection: str
    target_id: str


def _edge(direction: str) -> sql.Composed:
    return _EDGE.format(_COLUMNS, sql.Literal(direction))


def _live(schema_name: str, collection: str, param: str, *, lock: bool = False) -> sql.Composed:
    """EXISTS the record and it is not soft-deleted. `lock` (FOR SHARE) makes a concurrent
    soft delete wait for this transaction, so its trigger sees (and drops) the new edge."""
    return sql.SQL("EXISTS (SELECT 1 FROM {} WHERE id = {} AND deleted_at IS NULL{})").format(
        sql.Identifier(schema_name, collection),
        sql.Placeholder(param),
        sql.SQL(" FOR SHARE" if lock else ""),
    )


def _as_edge(write: sql.Composable) -> sql.Composed:
    """A write `... RETURNING *` -> the JSON text of the edge it wrote, seen from its source."""
    return sql.SQL("WITH w AS ({}) SELECT row_to_json(e)::text FROM (SELECT {} FROM w) e").format(
        write, _edge(OUT)
    )


def insert(schema_name: str, key: EdgeKey, properties: str) -> Statement:
    """The new edge, or no row: a missing end or an existing edge (see `ends_live`)."""
    write = sql.SQL(
        "INSERT INTO {} ({}, properties)"
        " SELECT %(rel)s, %(source_collection)s, %(source_id)s,"
        " %(target_collection)s, %(target_id)s, %(properties)s::jsonb"
        " WHERE {} AND {}"
        " ON CONFLICT DO NOTHING RETURNING *"
    ).format(
        edges_table(schema_name),
        _COLUMNS,
        _live(schema_name, key.source_collection, "source_id", lock=True),
        _live(schema_name, key.target_collection, "target_id", lock=True),
    )
    return _as_edge(write), {**asdict(key), "properties": properties}


def ends_live(schema_name: str, key: EdgeKey) -> Statement:
    """(source live, target live): why an insert wrote nothing."""
    query = sql.SQL("SELECT {}, {}").format(
        _live(schema_name, key.source_collection, "source_id"),
        _live(schema_name, key.target_collection, "target_id"),
    )
    return query, asdict(key)


def merge_properties(schema_name: str, key: EdgeKey, properties: str) -> Statement:
    """The edge with the given keys replacing its own (jsonb `||`), or no row."""
    write = sql.SQL(
        "UPDATE {} SET properties = properties || %(properties)s::jsonb WHERE {} RETURNING *"
    ).format(edges_table(schema_name), _KEY)
    return _as_edge(write), {**asdict(key), "properties": properties}


def delete(schema_name: str, key: EdgeKey) -> Statement:
    """One row when the edge existed."""
    query = sql.SQL("DELETE FROM {} WHERE {} RETURNING true").format(edges_table(schema_name), _KEY)
    return query, asdict(key)


def target_collections(schema_name: str, key: EdgeKey) -> Statement:
    """The collections (at most two, sorted) holding an edge like `key` but for its
    target_collection: which edge an update or delete that names none means."""
    query = sql.SQL(
        "SELECT coalesce(array_agg(target_collection ORDER BY target_collection), '{{}}')"
        " FROM (SELECT target_collection FROM {} WHERE rel = %(rel)s"
        " AND source_collection = %(source_collection)s AND source_id = %(source_id)s"
        " AND target_id = %(target_id)s ORDER BY target_collection LIMIT 2) t"
    ).format(edges_table(schema_name))
    return query, asdict(key)


def list_edges(
    schema_name: str,
    collection: str,
    record_id: str,
    rel: str,
    directions: tuple[str, ...],
    limit: int,
) -> Statement:
    """(record live, JSON array of its edges named `rel`, oldest first)."""
    branches = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} FROM {} WHERE {}").format(
            _edge(d), edges_table(schema_name), _TOUCHING[d]
        )
        for d in directions
    )
    query = sql.SQL(
        "SELECT {}, (SELECT coalesce(json_agg(row_to_json(e) ORDER BY {}), '[]')::text"
        " FROM ({} ORDER BY {} LIMIT %(limit)s) e)"
    ).format(_live(schema_name, collection, "id"), _ORDER, branches, _ORDER)
    return query, {"collection": collection, "id": record_id, "rel": rel, "limit": limit}
