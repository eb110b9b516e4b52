"""Core: the grpc.aio server and what it owns (pool, schema cache, listeners)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from plinth.v1 import (
    record_service_pb2,
    record_service_pb2_grpc,
    schema_service_pb2,
    schema_service_pb2_grpc,
)
from psycopg_pool import AsyncConnectionPool

from core.auth.authenticate import Authenticator
from core.config import Settings
from core.db.bootstrap import bootstrap
from core.db.embedded import start_embedded
from core.db.migrations import migrate
from core.db.pool import open_pool
from core.health import DatabaseHealth
from core.interceptors import CoreInterceptor
from core.records.service import RecordServicer
from core.schema.cache import SchemaCache
from core.schema.service import SchemaServicer

log = logging.getLogger("plinth.core")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SERVER_OPTIONS = [
    # Several core processes may share one port; the kernel spreads connections.
    ("grpc.so_reuseport", 1),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


@dataclass
class Core:
    server: grpc.aio.Server
    port: int
    pool: AsyncConnectionPool
    cache: SchemaCache
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def stop(self, grace: float = 5.0) -> None:
        await self.server.stop(grace)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.close()


async def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded, settings.data_dir)


async def start_core(settings: Settings, addr: str | None = None) -> Core:
    """Prepare the database and serve on addr (port 0 picks a free one)."""
    url = await database_url(settings)
    pool = await open_pool(url, settings.pool_min, settings.pool_max)
    async with pool.connection() as conn:
        await migrate(conn)
        await bootstrap(conn, settings.data_dir, settings.admin_key)
    cache = SchemaCache(pool)
    server = grpc.aio.server(
        interceptors=[CoreInterceptor(Authenticator(pool), cache.invalidate)],
        options=SERVER_OPTIONS,
    )
    schema_service_pb2_grpc.add_SchemaServiceServicer_to_server(SchemaServicer(pool, cache), server)
    record_service_pb2_grpc.add_RecordServiceServicer_to_server(RecordServicer(pool, cache), server)
    health_pb2_grpc.add_HealthServicer_to_server(DatabaseHealth(pool), server)
    reflection.enable_server_reflection(
        (
            schema_service_pb2.DESCRIPTOR.services_by_name["SchemaService"].full_name,
            record_service_pb2.DESCRIPTOR.services_by_name["RecordService"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(addr or settings.core_addr)
    await server.start()
    core = Core(server, port, pool, cache)
    core.tasks.append(asyncio.create_task(cache.listen(url), name="schema-listener"))
    return core
