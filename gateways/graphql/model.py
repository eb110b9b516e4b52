"""The GraphQL view of a space's collections: names chosen, clashes settled.

Collections are taken in name order and fields in declared order; one whose
GraphQL names are invalid or already taken is left out, and the reason is
kept as a note that the SDL shows as a comment, so the schema is the same
for every request at the same schema version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from plinth.v1 import schema_service_pb2 as pb

from gateways.graphql.names import camel, is_graphql_name, pascal
from gateways.graphql.static_fields import STATIC_TYPES, static_names
from gateways.graphql.types import FIELD_TYPES, RESERVED_TYPES, SYSTEM_FIELDS, FieldType

WHERE_KEYS = ("AND", "OR", "NOT")
# `ProductsAggregate` (a group), `ProductsAggregateGroup` (its key), and the field sets
# of the functions.
AGGREGATE_TYPE_PARTS = ("", "Group", "Count", "Sum", "Avg", "MinMax")


@dataclass(frozen=True)
class Field:
    name: str  # GraphQL
    column: str  # Plinth
    type: FieldType
    plinth_type: str  # system fields: `id` and `datetime`
    required: bool = False  # required and without a default: non-null on create
    values: tuple[str, ...] = ()  # of an enum
    system: bool = False


@dataclass(frozen=True)
class Collection:
    name: str  # Plinth
    type_name: str  # `Products`
    root: str  # `products`, the prefix of its query fields
    fields: tuple[Field, ...]  # system fields first

    @cached_property
    def columns(self) -> dict[str, str]:
        """GraphQL field name -> Plinth field name."""
        return {f.name: f.column for f in self.fields}

    @cached_property
    def graphql_names(self) -> dict[str, str]:
        """Plinth field name -> GraphQL field name."""
        return {f.column: f.name for f in self.fields}

    @property
    def declared(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.system)

    @property
    def exact_decimals(self) -> bool:
        return any(f.plinth_type == "decimal" for f in self.fields)

    def type_names(self) -> tuple[str, ...]:
        """Every type name the collection may generate (some only with suitable fields)."""
        t = self.type_name
        inputs = (f"{t}Where", f"{t}Field", f"{t}CreateInput", f"{t}UpdateInput")
        connection = (f"{t}Connection", f"{t}Edge")
        aggregate = tuple(f"{t}Aggregate{part}" for part in AGGREGATE_TYPE_PARTS)
        return (t, *inputs, *connection, *aggregate, f"{t}BatchResult", f"{t}BatchUpdateInput")

    def query_names(self) -> tuple[str, ...]:
        suffixes = ("", "ById", "Count", "Aggregate", "Connection")
        return tuple(f"{self.root}{suffix}" for suffix in suffixes)

    def mutation_names(self) -> tuple[str, ...]:
        verbs = ("create", "update", "replace", "delete")
        batch = tuple(f"batch{verb}{self.type_name}" for verb in ("Create", "Update", "Delete"))
        return (*(f"{verb}{self.type_name}" for verb in verbs), *batch)


@dataclass(frozen=True)
class Model:
    collections: tuple[Collection, ...]
    notes: tuple[str, ...]  # what was left out, and why


def build_model(collections: Iterable[pb.Collection]) -> Model:
    notes: list[str] = []
    # Types, Query fields and Mutation fields are three namespaces.
    taken: tuple[set[str], ...] = (
        set(RESERVED_TYPES) | STATIC_TYPES,
        {"_schemaVersion", *static_names("Query")},
        static_names("Mutation"),
    )
    kept = []
    for proto in sorted(collections, key=lambda c: c.name):
        collection = _collection(proto, notes)
        names = (collection.type_names(), collection.query_names(), collection.mutation_names())
        clash = [
            name
            for group, used in zip(names, taken, strict=True)
            for name in group
            if name in used or not is_graphql_name(name)
        ]
        if clash:
            notes.append(
                f"collection {proto.name!r} is left out: its GraphQL name {clash[0]!r}"
                " is invalid or already taken"
            )
            continue
        for group, used in zip(names, taken, strict=True):
            used.update(group)
        kept.append(collection)
    return Model(tuple(kept), tuple(notes))


def _collection(proto: pb.Collection, notes: list[str]) -> Collection:
    fields = [
        Field(name, column, ftype, plinth_type, system=True)
        for name, column, plinth_type, ftype in SYSTEM_FIELDS
    ]
    taken = {f.name for f in fields} | set(WHERE_KEYS)
    for spec in proto.fields:
        name, ftype = camel(spec.name), FIELD_TYPES.get(spec.type)
        if ftype is None:
            notes.append(
                f"field {proto.name}.{spec.name} is left out: no GraphQL type for {spec.type!r}"
            )
            continue
        if name in taken or not is_graphql_name(name):
            notes.append(
                f"field {proto.name}.{spec.name} is left out: its GraphQL name {name!r}"
                " is invalid or already taken"
            )
            continue
        taken.add(name)
        required = spec.required and not spec.HasField("default")
        fields.append(Field(name, spec.name, ftype, spec.type, required, tuple(spec.values)))
    return Collection(proto.name, pascal(proto.name), camel(proto.name), tuple(fields))
