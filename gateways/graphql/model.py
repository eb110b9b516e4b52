"""The GraphQL view of a space's collections: names chosen, clashes settled.

Collections are taken in name order and fields in declared order; one whose
GraphQL names are invalid or already taken is left out, and the reason is
kept as a note that the SDL shows as a comment, so the schema is the same
for every request at the same schema version. A relation field is left out
the same way when its target collection is not in the GraphQL schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from plinth.v1 import schema_service_pb2 as pb

from gateways.graphql.names import camel, is_graphql_name, pascal
from gateways.graphql.static_fields import STATIC_TYPES, static_names
from gateways.graphql.types import FIELD_TYPES, RESERVED_TYPES, SYSTEM_FIELDS, FieldType

WHERE_KEYS = ("AND", "OR", "NOT")
# `ProductsAggregate` (a group), `ProductsAggregateGroup` (its key), and the field sets
# of the functions.
AGGREGATE_TYPE_PARTS = ("", "Group", "Count", "Sum", "Avg", "MinMax")
MANY_TO_ONE, ONE_TO_MANY, MANY_TO_MANY = "many_to_one", "one_to_many", "many_to_many"


@dataclass(frozen=True)
class Field:
    name: str  # GraphQL
    column: str  # Plinth
    type: FieldType
    plinth_type: str  # system fields: `id` and `datetime`
    required: bool = False  # required and without a default: non-null on create
    values: tuple[str, ...] = ()  # of an enum
    system: bool = False
    target: str = ""  # a relation's target collection (Plinth name)
    cardinality: str = ""  # a relation's: many_to_one, one_to_many or many_to_many
    read_only: bool = False  # one_to_many, and the reverse of a many_to_many

    @property
    def relation(self) -> bool:
        return bool(self.target)

    @property
    def to_many(self) -> bool:
        return self.cardinality in (ONE_TO_MANY, MANY_TO_MANY)

    @property
    def writable(self) -> bool:
        """In create and update inputs."""
        return not self.system and not self.read_only


@dataclass(frozen=True)
class Collection:
    name: str  # Plinth
    type_name: str  # `Products`
    root: str  # `products`, the prefix of its query fields
    fields: tuple[Field, ...]  # system fields first
    # Every collection of the model by Plinth name, shared, so relations find their target.
    catalog: Mapping[str, Collection] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def columns(self) -> dict[str, str]:
        """GraphQL field name -> Plinth field name."""
        return {f.name: f.column for f in self.fields}

    @cached_property
    def graphql_names(self) -> dict[str, str]:
        """Plinth field name -> GraphQL field name."""
        return {f.column: f.name for f in self.fields}

    @cached_property
    def by_name(self) -> dict[str, Field]:
        """GraphQL field name -> field."""
        return {f.name: f for f in self.fields}

    @cached_property
    def by_column(self) -> dict[str, Field]:
        """Plinth field name -> field."""
        return {f.column: f for f in self.fields}

    @property
    def writable(self) -> tuple[Field, ...]:
        """The fields of the create and update inputs."""
        return tuple(f for f in self.fields if f.writable)

    def target(self, relation: Field) -> Collection:
        return self.catalog[relation.target]

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
    kept: list[pb.Collection] = []
    for proto in sorted(collections, key=lambda c: c.name):
        shell = Collection(proto.name, pascal(proto.name), camel(proto.name), ())
        names = (shell.type_names(), shell.query_names(), shell.mutation_names())
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
        kept.append(proto)
    # Fields once every collection is settled, so a relation knows whether its target is in.
    catalog: dict[str, Collection] = {}
    for proto in kept:
        catalog[proto.name] = _collection(proto, catalog, {p.name for p in kept}, notes)
    return Model(tuple(catalog.values()), tuple(notes))


def _collection(
    proto: pb.Collection, catalog: Mapping[str, Collection], kept: set[str], notes: list[str]
) -> Collection:
    fields = [
        Field(name, column, ftype, plinth_type, system=True)
        for name, column, plinth_type, ftype in SYSTEM_FIELDS
    ]
    taken = {f.name for f in fields} | set(WHERE_KEYS)
    for spec in proto.fields:
        name = camel(spec.name)
        if spec.type == "relation":
            ftype, why = _relation_type(spec, kept)
        else:
            ftype = FIELD_TYPES.get(spec.type)
            why = f"no GraphQL type for {spec.type!r}"
        if ftype is None:
            notes.append(f"field {proto.name}.{spec.name} is left out: {why}")
            continue
        if name in taken or not is_graphql_name(name):
            notes.append(
                f"field {proto.name}.{spec.name} is left out: its GraphQL name {name!r}"
                " is invalid or already taken"
            )
            continue
        taken.add(name)
        required = spec.required and not spec.HasField("default")
        relation = _relation(spec) if spec.type == "relation" else {}
        fields.append(
            Field(name, spec.name, ftype, spec.type, required, tuple(spec.values), **relation)
        )
    return Collection(
        proto.name, pascal(proto.name), camel(proto.name), tuple(fields), catalog=catalog
    )


def _relation_type(spec: pb.Field, kept: set[str]) -> tuple[FieldType | None, str]:
    """The type of a relation field: its target's record type (a list of them for
    to-many), filtered by the target's where input; never sorted."""
    if spec.cardinality not in (MANY_TO_ONE, ONE_TO_MANY, MANY_TO_MANY):
        return None, f"no GraphQL type for a relation of cardinality {spec.cardinality!r}"
    if spec.target not in kept:
        return None, f"its target collection {spec.target!r} is not in the GraphQL schema"
    target = pascal(spec.target)
    graphql = target if spec.cardinality == MANY_TO_ONE else f"[{target}!]!"
    return FieldType(graphql, f"{target}Where", sortable=False), ""


def _relation(spec: pb.Field) -> dict[str, Any]:
    """A relation field's settings. one_to_many reverses a many_to_one of the target, and
    a many_to_many with an `inverse` reverses one of the target's: both are read-only."""
    cardinality = spec.cardinality
    read_only = cardinality == ONE_TO_MANY or (cardinality == MANY_TO_MANY and bool(spec.inverse))
    return {"target": spec.target, "cardinality": cardinality, "read_only": read_only}
