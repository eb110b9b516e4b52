"""Many-to-many links: the junction rows behind a many_to_many field.

A write that changes links runs their statements first, in the record's own
transaction (the junction's key to its record is checked at commit), so the
record statement after them returns the record with its new links. One
statement per field and kind covers every record of a batch. Ids that name no
live record of the target are answered back, and the caller refuses the write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import AsyncConnection, sql

from core.errors import CoreError, Violation, invalid
from core.query.compile import cached, numbered, positional
from core.records.operators import CheckedUpdate
from core.records.values import CheckedRecord
from core.schema import relations
from core.schema.model import CollectionSpec, FieldSpec


@dataclass(frozen=True)
class LinkChange:
    record_id: str
    field: str
    kind: str  # "set" (the whole set), "push" or "pull"
    ids: list[str]


def of_record(record_id: str, record: CheckedRecord) -> list[LinkChange]:
    return [LinkChange(record_id, f, "set", ids) for f, ids in record.links.items()]


def of_update(record_id: str, update: CheckedUpdate) -> list[LinkChange]:
    pushed = [LinkChange(record_id, f, kind, ids) for f, kind, ids in update.link_ops]
    return of_record(record_id, update.record) + pushed


# Parameters: the (record id, target id, position) triples as three arrays, then every
# record id of the group. Each statement answers the pairs whose target is not live.
_WANTED = (
    "WITH wanted AS (SELECT * FROM unnest({s}::text[], {x}::text[], {o}::int[])"
    " AS w(source_id, target_id, position)),"
    " live AS (SELECT w.* FROM wanted w JOIN {target} x"
    " ON x.id = w.target_id AND x.deleted_at IS NULL)"
)
_MISSING = (
    " SELECT w.source_id, w.target_id FROM wanted w WHERE NOT EXISTS"
    " (SELECT 1 FROM live l WHERE l.source_id = w.source_id AND l.target_id = w.target_id)"
)
_TEXT = {
    # The new set: links not in it go (also every link of a record whose set is empty).
    "set": _WANTED
    + ", gone AS (DELETE FROM {j} j WHERE j.source_id = ANY({a}::text[]) AND NOT EXISTS"
    " (SELECT 1 FROM wanted w WHERE w.source_id = j.source_id AND w.target_id = j.target_id)),"
    " kept AS (INSERT INTO {j} (source_id, target_id, position)"
    " SELECT source_id, target_id, position FROM live"
    " ON CONFLICT (source_id, target_id) DO UPDATE SET position = EXCLUDED.position)" + _MISSING,
    # Added after the record's last link; one it already has stays where it is.
    "push": _WANTED + ", added AS (INSERT INTO {j} (source_id, target_id, position)"
    " SELECT l.source_id, l.target_id,"
    " coalesce((SELECT max(j.position) FROM {j} j WHERE j.source_id = l.source_id), 0)"
    " + l.position FROM live l ON CONFLICT DO NOTHING)" + _MISSING,
    "pull": "WITH gone AS (DELETE FROM {j} j"
    " USING unnest({s}::text[], {x}::text[]) AS w(source_id, target_id)"
    " WHERE j.source_id = w.source_id AND j.target_id = w.target_id)"
    " SELECT NULL, NULL WHERE FALSE",
}


def _statement(
    schema_name: str, collection: CollectionSpec, spec: FieldSpec, kind: str, group
) -> tuple[str, dict]:
    triples = [(c.record_id, x, i) for c in group for i, x in enumerate(c.ids, start=1)]

    def build() -> sql.Composable:
        return sql.SQL(_TEXT[kind]).format(
            s=positional(0),
            x=positional(1),
            o=positional(2),
            a=positional(3),
            target=sql.Identifier(schema_name, spec.target),
            j=relations.junction(schema_name, spec),
        )

    values = [[t[i] for t in triples] for i in range(3)] + [[c.record_id for c in group]]
    key = ("links", schema_name, spec.name, kind)
    return cached(collection, key, build), numbered(values)


async def apply(
    conn: AsyncConnection,
    schema_name: str,
    collection: CollectionSpec,
    changes: Iterable[LinkChange],
) -> dict[str, CoreError]:
    """Write the changes; the error of each record that named a missing target.

    A statement takes only the parameters its text names; the others are ignored.
    """
    groups: dict[tuple[str, str], list[LinkChange]] = {}
    for change in changes:
        groups.setdefault((change.field, change.kind), []).append(change)
    missing: dict[str, list[Violation]] = {}
    for (field, kind), group in groups.items():
        spec = collection.by_name[field]
        cur = await conn.execute(*_statement(schema_name, collection, spec, kind, group))
        for record_id, target_id in await cur.fetchall():
            reason = f"no record {target_id!r} in {spec.target!r}"
            missing.setdefault(record_id, []).append(Violation(field, reason))
    return {record_id: invalid(violations) for record_id, violations in missing.items()}
