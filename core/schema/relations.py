"""Relation fields in the database, and the rules that tie them to their targets.

A many_to_one field is a text column holding the related id, with a foreign key
and an index. Records are soft-deleted, so a foreign key alone cannot see a
deleted target: two triggers per field do what it would do on a hard delete.
One on the field's table refuses an id that names no live record (SQLSTATE
23503 naming the column); one on the target's table applies `on_delete` when a
target is soft-deleted (restrict, cascade, set_null). A many_to_many field owns
a junction table; a one_to_many field (and a many_to_many `inverse`) is a view
of the target's field and has nothing of its own.

Object names derive from the field's `key`, fixed at creation, so a rename only
rewrites the trigger bodies. Trigger bodies are plpgsql composed here with
sql.Identifier and passed as one literal.
"""

from __future__ import annotations

import dataclasses
import secrets

from psycopg import sql

from core.errors import Code, CoreError, conflict
from core.schema.model import MANY_TO_MANY, MANY_TO_ONE, ONE_TO_MANY, CollectionSpec, FieldSpec

FK_ACTIONS = {"restrict": "RESTRICT", "cascade": "CASCADE", "set_null": "SET NULL"}


def on_delete(spec: FieldSpec) -> str:
    """The effective rule: set_null unless the field is required."""
    return spec.on_delete or ("restrict" if spec.required else "set_null")


def with_key(spec: FieldSpec) -> FieldSpec:
    """A new relation field gets the stem of its database objects' names."""
    if not spec.is_relation or spec.key:
        return spec
    return dataclasses.replace(spec, key=secrets.token_hex(8))


def _name(spec: FieldSpec, suffix: str = "") -> str:
    return f"rel${spec.key}{suffix}"


def junction(schema_name: str, spec: FieldSpec) -> sql.Identifier:
    """The junction table of a many_to_many field that owns its links."""
    return sql.Identifier(schema_name, _name(spec))


def _table(schema_name: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema_name, name)


def _bad(field: str, reason: str) -> CoreError:
    return CoreError(Code.BAD_REQUEST, f"{field}: {reason}")


def check_target(
    collections: dict[str, CollectionSpec], owner: CollectionSpec, spec: FieldSpec
) -> None:
    """The target exists (or is the owner itself) and an inverse names a matching field.

    `collections` is the space's, without the owner's new definition; `owner` is it.
    """
    if not spec.is_relation:
        return
    target = owner if spec.target == owner.name else collections.get(spec.target)
    if target is None:
        raise _bad(spec.name, f"unknown target collection {spec.target!r}")
    if not spec.inverse:
        return
    mirrored = target.by_name.get(spec.inverse)
    wanted = MANY_TO_ONE if spec.cardinality == ONE_TO_MANY else MANY_TO_MANY
    if (
        mirrored is None
        or mirrored.cardinality != wanted
        or mirrored.target != owner.name
        or mirrored.inverse
    ):
        raise _bad(
            spec.name,
            f"inverse must name a {wanted} field of {spec.target!r} whose target is {owner.name!r}",
        )


def dependents(collections: dict[str, CollectionSpec], name: str, field: str | None = None):
    """The relation fields of other collections that lead to collection `name` (or that
    reverse its field `field`), as "collection.field" names."""
    found = []
    for other in collections.values():
        for spec in other.fields:
            if not spec.is_relation or spec.target != name:
                continue
            if field is None and other.name != name:
                found.append(f"{other.name}.{spec.name}")
            elif field is not None and spec.inverse == field:
                found.append(f"{other.name}.{spec.name}")
    return found


def refuse_if_used(used: list[str], what: str) -> None:
    if len(used) == 1:
        raise conflict(f"{what} is used by the relation field {used[0]}; change that first")
    if used:
        names = ", ".join(sorted(used))
        raise conflict(f"{what} is used by the relation fields {names}; change those first")


# --- DDL ---------------------------------------------------------------------------


def _function(schema_name: str, name: str, body: sql.Composable) -> sql.Composed:
    return sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}").format(
        _table(schema_name, name), sql.Literal(body.as_string(None))
    )


def _check_body(schema_name: str, spec: FieldSpec) -> sql.Composed:
    column = sql.Identifier(spec.name)
    return sql.SQL(
        "BEGIN"
        " IF TG_OP = 'UPDATE' AND NEW.{col} IS NOT DISTINCT FROM OLD.{col} THEN RETURN NEW; END IF;"
        " IF NEW.{col} IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM {target} WHERE id = NEW.{col} AND deleted_at IS NULL) THEN"
        " RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', COLUMN = {name},"
        " MESSAGE = 'no record ' || quote_literal(NEW.{col}) || ' in ' || {target_name};"
        " END IF;"
        " RETURN NEW;"
        " END"
    ).format(
        col=column,
        target=_table(schema_name, spec.target),
        name=sql.Literal(spec.name),
        target_name=sql.Literal(repr(spec.target)),
    )


def _gone_body(schema_name: str, owner: str, spec: FieldSpec) -> sql.Composed:
    """What a soft delete of a target does to the records that name it."""
    source = _table(schema_name, owner)
    column = sql.Identifier(spec.name)
    rule = on_delete(spec)
    if rule == "restrict":
        action = sql.SQL(
            "IF EXISTS (SELECT 1 FROM {source} WHERE {col} = OLD.id AND deleted_at IS NULL) THEN"
            " RAISE EXCEPTION USING ERRCODE = 'restrict_violation',"
            " MESSAGE = 'record ' || quote_literal(OLD.id) || ' of ' || {target}"
            " || ' is still referenced by ' || {field}; END IF;"
        ).format(
            source=source,
            col=column,
            target=sql.Literal(repr(spec.target)),
            field=sql.Literal(f"{owner}.{spec.name}"),
        )
    elif rule == "cascade":
        action = sql.SQL(
            "UPDATE {source} SET deleted_at = now(), updated_at = now(), version = version + 1"
            " WHERE {col} = OLD.id AND deleted_at IS NULL;"
        ).format(source=source, col=column)
    else:
        action = sql.SQL(
            "UPDATE {source} SET {col} = NULL, updated_at = now(), version = version + 1"
            " WHERE {col} = OLD.id AND deleted_at IS NULL;"
        ).format(source=source, col=column)
    return sql.SQL("BEGIN {} RETURN NULL; END").format(action)


def functions(schema_name: str, owner: str, spec: FieldSpec) -> list[sql.Composed]:
    """The trigger functions of a many_to_one field (re-run after a rename or a new rule)."""
    return [
        _function(schema_name, _name(spec, "_check"), _check_body(schema_name, spec)),
        _function(schema_name, _name(spec, "_gone"), _gone_body(schema_name, owner, spec)),
    ]


def foreign_key(schema_name: str, owner: str, spec: FieldSpec) -> sql.Composed:
    """Hard deletes (purges) follow the same rule as soft deletes."""
    return sql.SQL(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} (id) ON DELETE {}"
    ).format(
        _table(schema_name, owner),
        sql.Identifier(_name(spec, "_fk")),
        sql.Identifier(spec.name),
        _table(schema_name, spec.target),
        sql.SQL(FK_ACTIONS[on_delete(spec)]),
    )


def drop_foreign_key(schema_name: str, owner: str, spec: FieldSpec) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
        _table(schema_name, owner), sql.Identifier(_name(spec, "_fk"))
    )


def create(schema_name: str, owner: str, spec: FieldSpec) -> list[sql.Composed]:
    """Everything a new relation field needs once its column (if any) exists."""
    if spec.cardinality == MANY_TO_ONE:
        source, target = _table(schema_name, owner), _table(schema_name, spec.target)
        return [
            foreign_key(schema_name, owner, spec),
            sql.SQL("CREATE INDEX {} ON {} ({})").format(
                sql.Identifier(_name(spec, "_ix")), source, sql.Identifier(spec.name)
            ),
            *functions(schema_name, owner, spec),
            sql.SQL(
                "CREATE TRIGGER {} BEFORE INSERT OR UPDATE OF {} ON {}"
                " FOR EACH ROW EXECUTE FUNCTION {}()"
            ).format(
                sql.Identifier(_name(spec, "_check")),
                sql.Identifier(spec.name),
                source,
                _table(schema_name, _name(spec, "_check")),
            ),
            sql.SQL(
                "CREATE TRIGGER {} AFTER UPDATE OF deleted_at ON {} FOR EACH ROW"
                " WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)"
                " EXECUTE FUNCTION {}()"
            ).format(
                sql.Identifier(_name(spec, "_gone")),
                target,
                _table(schema_name, _name(spec, "_gone")),
            ),
        ]
    if not spec.owns_links:
        return []
    # The source key is checked at commit, so links can be written before their record.
    return [
        sql.SQL(
            "CREATE TABLE {} ("
            "source_id text NOT NULL REFERENCES {} (id) ON DELETE CASCADE"
            " DEFERRABLE INITIALLY DEFERRED,"
            " target_id text NOT NULL REFERENCES {} (id) ON DELETE CASCADE,"
            " position integer NOT NULL,"
            " PRIMARY KEY (source_id, target_id))"
        ).format(
            junction(schema_name, spec),
            _table(schema_name, owner),
            _table(schema_name, spec.target),
        ),
        sql.SQL("CREATE INDEX {} ON {} (target_id)").format(
            sql.Identifier(_name(spec, "_ix")), junction(schema_name, spec)
        ),
    ]


def drop(schema_name: str, owner: str, spec: FieldSpec, *, table_too: bool) -> list[sql.Composed]:
    """Removes a relation field's objects; `table_too` when its table is being dropped
    (its own triggers go with it)."""
    if spec.cardinality == MANY_TO_ONE:
        out = [
            sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                sql.Identifier(_name(spec, "_gone")), _table(schema_name, spec.target)
            ),
        ]
        if not table_too:
            out.append(
                sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                    sql.Identifier(_name(spec, "_check")), _table(schema_name, owner)
                )
            )
        return out
    if spec.owns_links:
        return [sql.SQL("DROP TABLE IF EXISTS {}").format(junction(schema_name, spec))]
    return []


def drop_functions(schema_name: str, spec: FieldSpec) -> list[sql.Composed]:
    """After the triggers that use them are gone."""
    if spec.cardinality != MANY_TO_ONE:
        return []
    return [
        sql.SQL("DROP FUNCTION IF EXISTS {}()").format(_table(schema_name, _name(spec, suffix)))
        for suffix in ("_check", "_gone")
    ]
