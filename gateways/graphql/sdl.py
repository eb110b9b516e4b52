"""The SDL of a space: one object type, where input, field enum and write inputs per
collection, plus the root Query and Mutation fields."""

from __future__ import annotations

import json

from gateways.graphql.model import Collection, Field, Model
from gateways.graphql.types import SHARED_SDL


def build_sdl(model: Model, schema_version: int) -> str:
    header = f"# Plinth schema version {schema_version}\n"
    header += "".join(f"# {note}\n" for note in model.notes)
    blocks = [header, SHARED_SDL, *(_collection_types(c) for c in model.collections)]
    blocks.append(_block("type Query", [_QUERY_VERSION, *_queries(model)]))
    mutations = _mutations(model)
    if mutations:
        blocks.append(_block("type Mutation", mutations))
    return "\n".join(blocks)


_QUERY_VERSION = '"""The schema version this answer was built from."""\n  _schemaVersion: BigInt!'


def _block(head: str, lines: list[str]) -> str:
    return head + " {\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def _collection_types(c: Collection) -> str:
    t = c.type_name
    record = [f"{_about(f)}{f.name}: {f.type.graphql}{'!' if f.system else ''}" for f in c.fields]
    where = [f"AND: [{t}Where!]", f"OR: [{t}Where!]", f"NOT: {t}Where"]
    where += [f"{f.name}: {f.type.filter}" for f in c.fields]
    create = ["id: ID"]
    create += [f"{f.name}: {f.type.graphql}{'!' if f.required else ''}" for f in c.declared]
    blocks = [
        f'"""A record of the collection `{c.name}`."""\n' + _block(f"type {t}", record),
        _block(f"input {t}Where", where),
        _block(f"enum {t}Field", [f.name for f in c.fields if f.type.sortable]),
        _block(f"input {t}CreateInput", create),
    ]
    if c.declared:  # an input type needs at least one field
        blocks.append(
            _block(f"input {t}UpdateInput", [f"{f.name}: {f.type.graphql}" for f in c.declared])
        )
    return "\n".join(blocks)


def _about(field: Field) -> str:
    """A declared field's description: its Plinth name and type."""
    if field.system:
        return ""
    values = f": {', '.join(field.values)}" if field.values else ""
    return json.dumps(f"`{field.column}` ({field.plinth_type}{values})", ensure_ascii=False) + " "


def _queries(model: Model) -> list[str]:
    lines = []
    for c in model.collections:
        t = c.type_name
        lines += [
            f"{c.root}(where: {t}Where, orderBy: [{t}Field!], orderDirection: OrderDirection = ASC,"
            f" limit: Int, offset: Int): [{t}!]!",
            f"{c.root}ById(id: ID!): {t}",
            f"{c.root}Count(where: {t}Where): Int!",
        ]
    return lines


def _mutations(model: Model) -> list[str]:
    lines = []
    for c in model.collections:
        t = c.type_name
        lines += [
            f"create{t}(input: {t}CreateInput!): {t}!",
            f"replace{t}(id: ID!, input: {t}CreateInput!): {t}!",
            f"delete{t}(id: ID!): DeleteResult!",
        ]
        if c.declared:
            lines.append(f"update{t}(id: ID!, input: {t}UpdateInput!): {t}!")
    return lines
