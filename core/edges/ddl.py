"""DDL of a space's edges table and the triggers that keep it clean."""

from __future__ import annotations

from psycopg import sql


def space_objects(schema_name: str) -> list[sql.Composable]:
    """The edges table (and its helpers) of a new space."""
    return []  # TODO(edges helper)


def collection_objects(schema_name: str, collection: str) -> list[sql.Composable]:
    """What a new collection table needs so deleting a record removes its edges."""
    return []  # TODO(edges helper)


def drop_collection_edges(schema_name: str, collection: str) -> list[sql.Composable]:
    """Removes the edges of a collection being dropped."""
    return []  # TODO(edges helper)
