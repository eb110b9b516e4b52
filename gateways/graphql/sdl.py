"""The SDL of a space: one object type, where input, field enum and write inputs per
collection, plus the root Query and Mutation fields."""

from __future__ import annotations

import json

from gateways.graphql import batch
from gateways.graphql.model import Collection, Field, Model
from gateways.graphql.static_fields import STATIC_SDL, static_lines
from gateways.graphql.types import AVG_TYPES, MIN_MAX_TYPES, SHARED_SDL, SUM_TYPES


def build_sdl(model: Model, schema_version: int) -> str:
    header = f"# Plinth schema version {schema_version}\n"
    header += "".join(f"# {note}\n" for note in model.notes)
    blocks = [header, SHARED_SDL, *STATIC_SDL, *batch.BATCH_SDL]
    blocks += [_collection_types(c) for c in model.collections]
    blocks.append(_block("type Query", [_QUERY_VERSION, *static_lines("Query"), *_queries(model)]))
    mutations = static_lines("Mutation") + _mutations(model)
    if mutations:
        blocks.append(_block("type Mutation", mutations))
    return "\n".join(blocks)


_QUERY_VERSION = '"""The schema version this answer was built from."""\n  _schemaVersion: BigInt!'


def _block(head: str, lines: list[str]) -> str:
    return head + " {\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def _collection_types(c: Collection) -> str:
    t = c.type_name
    record = [
        f"{_about(f)}{f.name}{_arguments(c, f)}: {f.type.graphql}{'!' if f.system else ''}"
        for f in c.fields
    ]
    where = [f"AND: [{t}Where!]", f"OR: [{t}Where!]", f"NOT: {t}Where"]
    where += [f"{_where_about(f)}{f.name}: {f.type.filter}" for f in c.fields]
    create = ["id: ID"]
    create += [f"{f.name}: {_input_type(f)}{'!' if f.required else ''}" for f in c.writable]
    blocks = [
        f'"""A record of the collection `{c.name}`."""\n' + _block(f"type {t}", record),
        _block(f"input {t}Where", where),
        _block(f"enum {t}Field", [f.name for f in c.fields if f.type.sortable]),
        _block(f"input {t}CreateInput", create),
    ]
    if c.writable:  # an input type needs at least one field
        blocks.append(
            _block(f"input {t}UpdateInput", [f"{f.name}: {_input_type(f)}" for f in c.writable])
        )
    blocks += batch.collection_sdl(c)
    return "\n".join([*blocks, *_connection_types(c), *_aggregate_types(c)])


def _arguments(c: Collection, f: Field) -> str:
    """A to-many relation's arguments: which related records, in which order."""
    if not f.to_many:
        return ""
    t = c.target(f).type_name
    return (
        f"(where: {t}Where, orderBy: [{t}Field!], orderDirection: OrderDirection = ASC,"
        " limit: Int, offset: Int)"
    )


def _input_type(f: Field) -> str:
    """What a write takes: a related id for many_to_one, a list of them for many_to_many."""
    if f.relation:
        return "[ID!]" if f.to_many else "ID"
    return f.type.graphql


def _where_about(f: Field) -> str:
    if not f.relation:
        return ""
    if f.to_many:
        return '"""Some related record matches; inside `NOT`: none does."""\n  '
    return '"""The related record exists and matches."""\n  '


def _connection_types(c: Collection) -> list[str]:
    t = c.type_name
    return [
        f'"""A page of `{c.name}` records (Relay)."""\n'
        + _block(
            f"type {t}Connection",
            [
                f"edges: [{t}Edge!]!",
                f"nodes: [{t}!]!",
                "pageInfo: PageInfo!",
                '"""Every record matching `where`, on all pages."""\n  totalCount: BigInt!',
            ],
        ),
        _block(f"type {t}Edge", ["cursor: String!", f"node: {t}!"]),
    ]


def _aggregate_types(c: Collection) -> list[str]:
    """`{t}Aggregate`, one group, and the field sets its functions take. A function
    without fields to take (`sum` without numeric fields) is left out."""
    t = c.type_name
    sets = {
        "Count": {f.name: "BigInt" for f in c.fields if not f.relation},
        "Sum": {f.name: SUM_TYPES[f.plinth_type] for f in c.fields if f.plinth_type in SUM_TYPES},
        "Avg": {f.name: AVG_TYPES[f.plinth_type] for f in c.fields if f.plinth_type in AVG_TYPES},
        "MinMax": {
            f.name: MIN_MAX_TYPES[f.plinth_type] for f in c.fields if f.plinth_type in MIN_MAX_TYPES
        },
    }
    functions = {
        "countNonNull": ("Count", "How many records of the group have a value in each field."),
        "countDistinct": ("Count", "How many distinct values each field has (nulls aside)."),
        "sum": ("Sum", "The sum of each field (nulls aside; null without values)."),
        "sumDistinct": ("Sum", "The sum of the distinct values of each field."),
        "avg": ("Avg", "The average of each field (nulls aside)."),
        "avgDistinct": ("Avg", "The average of the distinct values of each field."),
        "min": ("MinMax", "The least value of each field."),
        "max": ("MinMax", "The greatest value of each field."),
    }
    group = [f"{f.name}: {f.type.graphql}" for f in c.fields if f.type.sortable]
    lines = [
        '"""The values of the `groupBy` fields; the other fields are null."""\n'
        f"  group: {t}AggregateGroup!",
        '"""How many records the group has."""\n  count: BigInt!',
    ]
    lines += [
        f'"""{about}"""\n  {name}: {t}Aggregate{part}!'
        for name, (part, about) in functions.items()
        if sets[part]
    ]
    blocks = [
        f'"""One group of `{c.name}` records and the aggregates asked for."""\n'
        + _block(f"type {t}Aggregate", lines),
        _block(f"type {t}AggregateGroup", group),
    ]
    blocks += [
        _block(f"type {t}Aggregate{part}", [f"{name}: {scalar}" for name, scalar in fields.items()])
        for part, fields in sets.items()
        if fields
    ]
    return blocks


def _about(field: Field) -> str:
    """A declared field's description: its Plinth name and type (a relation's target)."""
    if field.system:
        return ""
    values = f": {', '.join(field.values)}" if field.values else ""
    if field.relation:
        values = f" {field.cardinality} to `{field.target}`"
    return json.dumps(f"`{field.column}` ({field.plinth_type}{values})", ensure_ascii=False) + " "


def _queries(model: Model) -> list[str]:
    lines = []
    for c in model.collections:
        t = c.type_name
        lines += [
            f"{c.root}(where: {t}Where, orderBy: [{t}Field!], orderDirection: OrderDirection = ASC,"
            f" limit: Int, offset: Int): [{t}!]!",
            f"{c.root}ById(id: ID!): {t}",
            f"{c.root}Count(where: {t}Where): BigInt!",
            f"{c.root}Aggregate(where: {t}Where, groupBy: [{t}Field!]): [{t}Aggregate!]!",
            f"{c.root}Connection(first: Int, after: String, last: Int, before: String,"
            f" where: {t}Where, orderBy: [{t}Field!], orderDirection: OrderDirection = ASC):"
            f" {t}Connection!",
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
            f"restore{t}(id: ID!): {t}!",
        ]
        if c.writable:
            lines.append(f"update{t}(id: ID!, input: {t}UpdateInput!): {t}!")
        lines += batch.mutation_lines(c)
    return lines
