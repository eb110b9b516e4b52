"""Schema changes: DDL and catalogue rows in one transaction, then NOTIFY.

Each change locks its space row, so changes to one space apply one at a
time, bumps the space's schema version and records itself in
plinth.migrations.
"""

from __future__ import annotations

import dataclasses

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from core.edges import ddl as edges_ddl
from core.errors import Code, CoreError, conflict, not_found
from core.schema import ddl, relations
from core.schema.cache import CHANNEL, load_space
from core.schema.definitions import check_collection, check_field
from core.schema.model import (
    EXTRA_COLUMN,
    FLEXIBLE,
    MANY_TO_ONE,
    CollectionSpec,
    FieldSpec,
    SpaceSchema,
)
from core.schema.types import FIELD_TYPES


async def lock_space(conn: AsyncConnection, space_id: str) -> SpaceSchema:
    await conn.execute("SELECT 1 FROM plinth.spaces WHERE id = %s FOR UPDATE", [space_id])
    return await load_space(conn, space_id)


async def record_change(conn: AsyncConnection, space_id: str, description: str) -> None:
    await conn.execute(
        "INSERT INTO plinth.migrations (space_id, description) VALUES (%s, %s)",
        [space_id, description],
    )
    await conn.execute(
        "UPDATE plinth.spaces SET schema_version = schema_version + 1 WHERE id = %s", [space_id]
    )
    await conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, space_id])


def existing(space: SpaceSchema, name: str) -> CollectionSpec:
    found = space.collections.get(name)
    if found is None:
        raise not_found(f"no collection named {name!r}")
    return found


async def _execute_all(conn: AsyncConnection, statements: list[sql.Composable]) -> None:
    for statement in statements:
        await conn.execute(statement)


async def _save_fields(
    conn: AsyncConnection, collection_id: str, fields: tuple[FieldSpec, ...]
) -> None:
    await conn.execute("DELETE FROM plinth.fields WHERE collection_id = %s", [collection_id])
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO plinth.fields (collection_id, name, position, spec)"
            " VALUES (%s, %s, %s, %s)",
            [(collection_id, f.name, i, Jsonb(f.to_json())) for i, f in enumerate(fields)],
        )


async def create_collection(
    conn: AsyncConnection, space_id: str, spec: CollectionSpec
) -> CollectionSpec:
    check_collection(spec)
    space = await lock_space(conn, space_id)
    if spec.name in space.collections:
        raise conflict(f"collection {spec.name!r} already exists")
    spec = dataclasses.replace(spec, fields=tuple(map(relations.with_key, spec.fields)))
    for field in spec.fields:
        relations.check_target(space.collections, spec, field)
    cur = await conn.execute(
        "INSERT INTO plinth.collections (space_id, name, mode) VALUES (%s, %s, %s) RETURNING id",
        [space_id, spec.name, spec.mode],
    )
    (collection_id,) = await cur.fetchone()
    created = dataclasses.replace(spec, id=collection_id)
    await _save_fields(conn, collection_id, created.fields)
    await _execute_all(conn, ddl.create_table(space.schema_name, created))
    for field in created.fields:
        await _execute_all(conn, relations.create(space.schema_name, created.name, field))
    await record_change(conn, space_id, f"create collection {spec.name}")
    return created


async def set_mode(conn: AsyncConnection, space_id: str, name: str, mode: str) -> CollectionSpec:
    space = await lock_space(conn, space_id)
    current = existing(space, name)
    if mode == current.mode:
        return current
    target = ddl.table(space.schema_name, name)
    extra = sql.Identifier(EXTRA_COLUMN)
    if mode == FLEXIBLE:
        await conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(target, ddl.extra_column())
        )
    else:
        cur = await conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {} <> '{{}}'").format(target, extra)
        )
        (kept,) = await cur.fetchone()
        if kept:
            raise conflict(
                f"{kept} records hold undeclared fields; declare them or remove them"
                " before making the collection strict"
            )
        await conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(target, extra))
    await conn.execute(
        "UPDATE plinth.collections SET mode = %s, updated_at = now() WHERE id = %s",
        [mode, current.id],
    )
    await record_change(conn, space_id, f"set mode of {name} to {mode}")
    return dataclasses.replace(current, mode=mode)


async def delete_collection(conn: AsyncConnection, space_id: str, name: str) -> None:
    space = await lock_space(conn, space_id)
    current = existing(space, name)
    relations.refuse_if_used(relations.dependents(space.collections, name), f"collection {name!r}")
    for field in current.fields:
        await _execute_all(conn, relations.drop(space.schema_name, name, field, table_too=True))
    await _execute_all(conn, edges_ddl.drop_collection_edges(space.schema_name, name))
    await conn.execute(sql.SQL("DROP TABLE {}").format(ddl.table(space.schema_name, name)))
    for field in current.fields:
        await _execute_all(conn, relations.drop_functions(space.schema_name, field))
    await conn.execute("DELETE FROM plinth.collections WHERE id = %s", [current.id])
    await record_change(conn, space_id, f"delete collection {name}")


async def add_field(
    conn: AsyncConnection, space_id: str, name: str, spec: FieldSpec
) -> CollectionSpec:
    check_field(spec)
    space = await lock_space(conn, space_id)
    current = existing(space, name)
    if spec.name in current.by_name:
        raise conflict(f"field {spec.name!r} already exists in {name!r}")
    spec = relations.with_key(spec)
    relations.check_target(space.collections, current, spec)
    if spec.has_column:
        await conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(
                ddl.table(space.schema_name, name), ddl.column_definition(spec)
            )
        )
        await _execute_all(conn, ddl.field_indexes(space.schema_name, current, spec))
    await _execute_all(conn, relations.create(space.schema_name, name, spec))
    updated = dataclasses.replace(current, fields=(*current.fields, spec))
    await _save_fields(conn, current.id, updated.fields)
    await record_change(conn, space_id, f"add field {name}.{spec.name}")
    return updated


async def update_field(
    conn: AsyncConnection, space_id: str, name: str, field: str, new: FieldSpec
) -> CollectionSpec:
    check_field(new)
    space = await lock_space(conn, space_id)
    current = existing(space, name)
    old = current.by_name.get(field)
    if old is None:
        raise not_found(f"no field named {field!r} in {name!r}")
    if new.name != field and new.name in current.by_name:
        raise conflict(f"field {new.name!r} already exists in {name!r}")
    if old.is_relation or new.is_relation:
        new = _relation_change(space, current, old, new)
        if not new.has_column:  # a to-many relation has nothing in the database to alter
            fields = tuple(new if f.name == field else f for f in current.fields)
            await _save_fields(conn, current.id, fields)
            await record_change(conn, space_id, f"alter field {name}.{field}")
            return dataclasses.replace(current, fields=fields)
    await _execute_all(conn, _alter_statements(space.schema_name, current, old, new))
    if new.cardinality == MANY_TO_ONE:
        await _execute_all(conn, _relation_statements(space.schema_name, name, old, new))
    fields = tuple(new if f.name == field else f for f in current.fields)
    updated = dataclasses.replace(current, fields=fields)
    await _save_fields(conn, current.id, fields)
    await record_change(conn, space_id, f"alter field {name}.{field}")
    return updated


def _relation_change(
    space: SpaceSchema, current: CollectionSpec, old: FieldSpec, new: FieldSpec
) -> FieldSpec:
    """The new definition of a relation field: its name, required, unique and on_delete
    may change; what it relates to may not."""
    fixed = ("type", "target", "cardinality", "inverse")
    if any(getattr(old, a) != getattr(new, a) for a in fixed):
        raise CoreError(
            Code.BAD_REQUEST,
            f"{old.name}: the type, target, cardinality and inverse of a relation field are"
            " fixed; drop the field and add it again",
        )
    if new.name != old.name:
        relations.refuse_if_used(
            relations.dependents(space.collections, current.name, old.name),
            f"field {current.name}.{old.name}",
        )
    return dataclasses.replace(new, key=old.key)


def _relation_statements(
    schema_name: str, owner: str, old: FieldSpec, new: FieldSpec
) -> list[sql.Composable]:
    """Trigger bodies name the column and the rule; the foreign key carries the rule."""
    out: list[sql.Composable] = list(relations.functions(schema_name, owner, new))
    if relations.on_delete(old) != relations.on_delete(new):
        out.append(relations.drop_foreign_key(schema_name, owner, new))
        out.append(relations.foreign_key(schema_name, owner, new))
    return out


def _alter_statements(
    schema_name: str, collection: CollectionSpec, old: FieldSpec, new: FieldSpec
) -> list[sql.Composable]:
    target = ddl.table(schema_name, collection.name)
    column = sql.Identifier(new.name)
    alter = sql.SQL("ALTER TABLE {} ALTER COLUMN {} ").format(target, column)
    out: list[sql.Composable] = []
    if new.name != old.name:
        out.append(
            sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                target, sql.Identifier(old.name), column
            )
        )
        for kind in ("ux", "ix"):
            out.append(ddl.rename_index(schema_name, collection.id, old.name, new.name, kind))
    if FIELD_TYPES[new.type].sql != FIELD_TYPES[old.type].sql:
        out.append(alter + sql.SQL("DROP DEFAULT"))
        out.append(
            alter
            + sql.SQL("TYPE {} USING {}::{}").format(
                ddl.column_type(new), column, ddl.column_type(new)
            )
        )
    if new.default != old.default or new.type != old.type:
        if new.default is None:
            out.append(alter + sql.SQL("DROP DEFAULT"))
        else:
            out.append(alter + sql.SQL("SET DEFAULT ") + ddl.default_literal(new))
    if new.required != old.required:
        out.append(alter + sql.SQL("SET NOT NULL" if new.required else "DROP NOT NULL"))
    for kind, flag in (("ux", "unique"), ("ix", "index")):
        if getattr(old, flag) and not getattr(new, flag):
            out.append(ddl.drop_index(schema_name, collection.id, new.name, kind))
    added = dataclasses.replace(
        new, unique=new.unique and not old.unique, index=new.index and not old.index
    )
    out += ddl.field_indexes(schema_name, collection, added)
    return out


async def delete_field(
    conn: AsyncConnection, space_id: str, name: str, field: str
) -> CollectionSpec:
    space = await lock_space(conn, space_id)
    current = existing(space, name)
    spec = current.by_name.get(field)
    if spec is None:
        raise not_found(f"no field named {field!r} in {name!r}")
    relations.refuse_if_used(
        relations.dependents(space.collections, name, field), f"field {name}.{field}"
    )
    await _execute_all(conn, relations.drop(space.schema_name, name, spec, table_too=False))
    if spec.has_column:
        await conn.execute(
            sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(
                ddl.table(space.schema_name, name), sql.Identifier(field)
            )
        )
    await _execute_all(conn, relations.drop_functions(space.schema_name, spec))
    fields = tuple(f for f in current.fields if f.name != field)
    await _save_fields(conn, current.id, fields)
    await record_change(conn, space_id, f"drop field {name}.{field}")
    return dataclasses.replace(current, fields=fields)
