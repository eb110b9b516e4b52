"""What core reads for a selection set: `fields` paths through relation fields, and the
where, order and page of each to-many relation read (RelationOptions).

On `posts`, `{ title author { name } tags(limit: 2) { name } }` reads
`["id", "title", "author.id", "author.name", "tags.id", "tags.name"]` with
`[RelationOptions(path="tags", limit=2)]`: core compiles the whole tree into one
statement, however deep it goes, so a root field stays one core call.

A relation is read once per record, so every selection of one relation field (aliases
included) must carry the same arguments; different ones are a BAD_REQUEST.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plinth import PlinthError
from plinth.v1 import query_pb2 as q
from tartiflette.coercers.arguments import coerce_arguments
from tartiflette.language.ast import FieldNode
from tartiflette.types.exceptions.tartiflette import MultipleException

from gateways.graphql.model import Collection, Field
from gateways.graphql.selection import subfields
from gateways.graphql.where import matches_nothing, to_filter, to_sort


@dataclass
class Read:
    fields: list[str] = field(default_factory=list)  # Plinth paths, `id` first
    relations: list[q.RelationOptions] = field(default_factory=list)
    exact: bool = False  # a decimal is read somewhere: parse numbers exactly
    deep: bool = False  # a relation field is read


async def read(info: Any, c: Collection, nodes: Iterable[FieldNode]) -> Read:
    """The read of records of `c` selected under `nodes`."""
    answer = Read()
    await _walk(info, c, list(nodes), "", answer)
    return answer


async def _walk(info: Any, c: Collection, nodes: list[FieldNode], prefix: str, into: Read) -> None:
    wanted = subfields(info, nodes)
    for f in c.fields:
        if f.name not in wanted and f.name != "id":  # id always, related records' too
            continue
        path = prefix + f.column
        if not f.relation:
            into.fields.append(path)
            into.exact |= f.plinth_type == "decimal"
            continue
        into.deep = True
        target = c.target(f)
        if f.to_many:
            options = _options(path, await _arguments(info, c, f, wanted[f.name]), target)
            if options is not None:
                into.relations.append(options)
        await _walk(info, target, wanted[f.name], path + ".", into)


async def _arguments(info: Any, c: Collection, f: Field, nodes: list[FieldNode]) -> dict:
    """The arguments of a to-many relation field, the same in every selection of it."""
    definition = info.schema.find_type(c.type_name).find_field(f.name)
    found: list[dict[str, Any]] = []
    for node in nodes:
        try:
            args = await coerce_arguments(
                definition.arguments,
                node,
                info.variable_values or {},
                None,
                coercer=definition.arguments_coercer,
            )
        except MultipleException as exc:
            reasons = "; ".join(str(e) for e in exc.exceptions)
            raise PlinthError("BAD_REQUEST", f"arguments of {f.name!r}: {reasons}") from None
        if args not in found:
            found.append(args)
    if len(found) > 1:
        raise PlinthError(
            "BAD_REQUEST",
            f"{c.type_name}.{f.name} is selected with different arguments; related records"
            " are read once per record, so select it once or with the same arguments",
        )
    return found[0]


def _options(path: str, args: dict[str, Any], target: Collection) -> q.RelationOptions | None:
    """The where / orderBy / limit / offset of one to-many relation; None without any."""
    limit, offset = args.get("limit"), args.get("offset") or 0
    if args.get("where") is None and not args.get("orderBy") and limit is None and not offset:
        return None
    return q.RelationOptions(
        path=path,
        # Core reads a limit of 0 as "every related record"; `limit: 0` reads none.
        filter=matches_nothing() if limit == 0 else to_filter(args.get("where"), target),
        sort=to_sort(args, target),
        limit=limit or 0,
        offset=offset,
    )
