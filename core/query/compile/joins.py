"""How a row reaches its related records: the FROM and the condition of a relation.

The row is `alias` (t, t1, …); its related records are `child` (one level deeper),
reached through the junction table `<child>j` for many_to_many. Only live records
are related: soft-deleted ones never appear through a relation. Aliases are our own
constants, written as SQL text like the `t` of every statement.
"""

from __future__ import annotations

from psycopg import sql

from core.schema import relations
from core.schema.model import MANY_TO_ONE, ONE_TO_MANY, CollectionSpec, FieldSpec


def child_alias(alias: str) -> str:
    return f"t{int(alias[1:] or 0) + 1}"


def join(
    field: FieldSpec, target: CollectionSpec, alias: str
) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """(FROM, condition, default order) of the live `target` records the relation `field`
    of the row `alias` leads to; the records are named child_alias(alias)."""
    schema = target.space.schema_name
    row, child = sql.SQL(alias), sql.SQL(child_alias(alias))
    records = sql.SQL("{} AS {}").format(sql.Identifier(schema, target.name), child)
    live = sql.SQL("{}.deleted_at IS NULL").format(child)
    by_age = sql.SQL("{0}.created_at, {0}.id").format(child)
    if field.cardinality == MANY_TO_ONE:
        condition = sql.SQL("{}.id = {}.{} AND {}").format(
            child, row, sql.Identifier(field.name), live
        )
        return records, condition, by_age
    if field.cardinality == ONE_TO_MANY:
        condition = sql.SQL("{}.{} = {}.id AND {}").format(
            child, sql.Identifier(field.inverse), row, live
        )
        return records, condition, by_age
    link = sql.SQL(child_alias(alias) + "j")
    if field.owns_links:  # in the order the links were given
        junction, near, far = relations.junction(schema, field), "source_id", "target_id"
        order = sql.SQL("{}.position").format(link)
    else:  # the reverse of the target's many_to_many field
        owner = target.by_name[field.inverse]
        junction, near, far = relations.junction(schema, owner), "target_id", "source_id"
        order = by_age
    source = sql.SQL("{} AS {} JOIN {} ON {}.id = {}.{}").format(
        junction, link, records, child, link, sql.Identifier(far)
    )
    condition = sql.SQL("{}.{} = {}.id AND {}").format(link, sql.Identifier(near), row, live)
    return source, condition, order
