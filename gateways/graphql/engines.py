"""One Tartiflette engine per space and schema version, built on demand and kept in an LRU.

Every request asks core for the caller's schema with the version this
process last saw for the same credentials; core answers `not_modified`
without the collections when it is unchanged, so the check is one cheap
call, and a schema change shows in the very next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from plinth.v1 import schema_service_pb2 as schema_pb
from sanic import Request
from tartiflette import Engine, create_engine
from tartiflette.schema.registry import SchemaRegistry

from gateways.core_client import call, core_metadata
from gateways.graphql.errors import coerce_error
from gateways.graphql.model import build_model
from gateways.graphql.resolvers import register_resolvers, resolve_field
from gateways.graphql.scalars import register_scalars
from gateways.graphql.sdl import build_sdl

MAX_ENGINES = 32
MAX_CALLERS = 4096

Key = tuple[str, int]  # (space id, schema version)
Metadata = tuple[tuple[str, str], ...]

_schema_names = itertools.count()


@dataclass(frozen=True)
class Built:
    engine: Engine
    sdl: str


# Tartiflette parses SDL with a pure-Python parser: about 0.5 s for 20 collections of
# 10 fields. Builds run one at a time on a thread of their own so the event loop
# keeps answering other requests meanwhile.
_builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphql-build")


def build(collections: Iterable[schema_pb.Collection], schema_version: int) -> Built:
    """A cooked engine for one schema version (blocking; its own event loop)."""
    model = build_model(collections)
    sdl = build_sdl(model, schema_version)
    # Tartiflette registers resolvers and scalars globally by schema name, so every
    # build gets a name of its own.
    schema_name = f"plinth-{next(_schema_names)}"
    register_scalars(schema_name)
    register_resolvers(model, schema_version, schema_name)
    try:
        engine = asyncio.run(
            create_engine(
                sdl,
                schema_name=schema_name,
                error_coercer=coerce_error,
                custom_default_resolver=resolve_field,
            )
        )
    finally:
        # The registry is only read while cooking; the engine keeps its baked schema.
        # Dropping the entry lets an evicted engine be freed.
        SchemaRegistry._schemas.pop(schema_name, None)
    return Built(engine, sdl)


class Engines:
    def __init__(self) -> None:
        self._engines: OrderedDict[Key, Built] = OrderedDict()
        self._callers: OrderedDict[bytes, Key] = OrderedDict()  # credentials -> last seen
        self._building: dict[Key, asyncio.Future[Built]] = {}

    async def for_request(self, request: Request) -> Built:
        """The engine for the caller's space at its current version; raises PlinthError
        (UNAUTHENTICATED for missing or bad credentials) before anything executes."""
        caller = _fingerprint(core_metadata(request))
        known = self._callers.get(caller)
        answer = await _list_collections(request, known[1] if known in self._engines else 0)
        key = (answer.space_id, answer.schema_version)
        if key not in self._engines and answer.not_modified:
            # Another space of the same version, or evicted meanwhile: ask in full.
            answer = await _list_collections(request, 0)
            key = (answer.space_id, answer.schema_version)
        built = self._engines.get(key) or await self._build(key, answer.collections)
        self._engines.move_to_end(key)
        self._callers[caller] = key
        self._callers.move_to_end(caller)
        if len(self._callers) > MAX_CALLERS:
            self._callers.popitem(last=False)
        return built

    async def _build(self, key: Key, collections: Iterable[schema_pb.Collection]) -> Built:
        """Build once however many requests ask for the same new version at once."""
        pending = self._building.get(key)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(_builder, build, list(collections), key[1])
            self._building[key] = pending
            pending.add_done_callback(lambda _: self._building.pop(key, None))
        built = await asyncio.shield(pending)
        space, version = key
        for stale in [k for k in self._engines if k[0] == space and k[1] < version]:
            del self._engines[stale]  # core only ever answers a space's newest version
        self._engines[key] = built
        while len(self._engines) > MAX_ENGINES:
            self._engines.popitem(last=False)
        return built


async def _list_collections(
    request: Request, known_version: int
) -> schema_pb.ListCollectionsResponse:
    message = schema_pb.ListCollectionsRequest(known_version=known_version)
    return await call(request, "schema", "ListCollections", message)


def _fingerprint(metadata: Metadata) -> bytes:
    """The caller's credentials (not the request id), hashed so no secret is kept."""
    credentials = sorted((k, v) for k, v in metadata if k != "x-request-id")
    return hashlib.sha256(repr(credentials).encode()).digest()
