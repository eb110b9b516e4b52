"""DDL of a space's edges table and the triggers that keep it clean.

`$edges` cannot collide with a collection: `$` is not allowed in collection names.
Migration 4 (core/db/migrations.py) creates the same objects in older spaces.
"""

from __future__ import annotations

from psycopg import sql

EDGES = "$edges"
DROP_FUNCTION = "$edges_drop"
TRIGGER = "edges_drop"

# The function runs with search_path set to its space, so its body is constant text.
_DROP_BODY = """
BEGIN
  DELETE FROM "$edges"
   WHERE (source_collection = TG_TABLE_NAME AND source_id = OLD.id)
      OR (target_collection = TG_TABLE_NAME AND target_id = OLD.id);
  RETURN NULL;
END
"""


def edges_table(schema_name: str) -> sql.Identifier:
    return sql.Identifier(schema_name, EDGES)


def space_objects(schema_name: str) -> list[sql.Composable]:
    """The edges table (and its helpers) of a new space."""
    table = edges_table(schema_name)
    return [
        sql.SQL(
            "CREATE TABLE {} ("
            " rel text NOT NULL,"
            " source_collection text NOT NULL, source_id text NOT NULL,"
            " target_collection text NOT NULL, target_id text NOT NULL,"
            " properties jsonb NOT NULL DEFAULT '{{}}',"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (source_collection, source_id, rel, target_collection, target_id))"
        ).format(table),
        # The primary key serves `out`; this serves `in` and the cleanup of a target.
        sql.SQL("CREATE INDEX {} ON {} (target_collection, target_id, rel)").format(
            sql.Identifier("$edges_in"), table
        ),
        sql.SQL(
            "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SET search_path = {} AS {}"
        ).format(
            sql.Identifier(schema_name, DROP_FUNCTION),
            sql.Identifier(schema_name),
            sql.Literal(_DROP_BODY),
        ),
    ]


def collection_objects(schema_name: str, collection: str) -> list[sql.Composable]:
    """What a new collection table needs so deleting a record removes its edges.

    A trigger, not code in the write path: soft deletes also happen inside the
    database (cascades), and every one of them must drop the record's edges.
    """
    return [
        sql.SQL(
            "CREATE TRIGGER {} AFTER UPDATE OF deleted_at ON {} FOR EACH ROW"
            " WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)"
            " EXECUTE FUNCTION {}()"
        ).format(
            sql.Identifier(TRIGGER),
            sql.Identifier(schema_name, collection),
            sql.Identifier(schema_name, DROP_FUNCTION),
        )
    ]


def drop_collection_edges(schema_name: str, collection: str) -> list[sql.Composable]:
    """Removes the edges of a collection being dropped."""
    return [
        sql.SQL("DELETE FROM {} WHERE source_collection = {} OR target_collection = {}").format(
            edges_table(schema_name), sql.Literal(collection), sql.Literal(collection)
        )
    ]
