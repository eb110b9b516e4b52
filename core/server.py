"""Core: the grpc.aio server and what it owns (pool, schema cache, listeners)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from plinth.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    file_service_pb2,
    file_service_pb2_grpc,
    kv_service_pb2,
    kv_service_pb2_grpc,
    queue_service_pb2,
    queue_service_pb2_grpc,
    record_service_pb2,
    record_service_pb2_grpc,
    schema_service_pb2,
    schema_service_pb2_grpc,
)
from plinth.wire import MAX_MESSAGE_BYTES
from psycopg_pool import AsyncConnectionPool

from core import metrics
from core.auth.authenticate import Authenticator
from core.auth.secret import load_secret, subkey
from core.auth.service import AuthServicer
from core.config import CoreConfig
from core.db.bootstrap import bootstrap
from core.db.embedded import start_embedded
from core.db.migrations import migrate
from core.db.pool import open_pool
from core.files.backends import file_rules, open_storage
from core.files.service import SIGNED_METHODS, FileServicer
from core.files.storage import Storage
from core.health import DatabaseHealth
from core.interceptors import CoreInterceptor
from core.kv.cache import KvCache
from core.kv.service import KeyValueServicer
from core.kv.store import sweep_expired
from core.queue import purge
from core.queue.internal import Periodic, run_internal
from core.queue.service import Queue, QueueServicer
from core.queue.wakeups import Wakeups
from core.records.service import RecordServicer
from core.schema.cache import SchemaCache
from core.schema.service import SchemaServicer

log = logging.getLogger("plinth.core")

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
    pools: list[AsyncConnectionPool] = field(default_factory=list)  # more to close after `pool`
    storage: Storage | None = None  # the files backend, closed last

    async def stop(self, grace: float = 5.0) -> None:
        await self.server.stop(grace)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.close()
        for pool in self.pools:
            await pool.close()
        if self.storage is not None:
            await self.storage.close()


async def database_url(config: CoreConfig) -> str:
    if config.database_url:
        return config.database_url
    return await asyncio.to_thread(start_embedded, config.data_dir)


async def start_core(config: CoreConfig, addr: str | None = None) -> Core:
    """Prepare the database and serve on addr (port 0 picks a free one)."""
    url = await database_url(config)
    pool = await open_pool(url, config.pool_min, config.pool_max)
    secret = load_secret(config.data_dir, config.jwt_secret)
    pepper, token_key = subkey(secret, "api-key"), subkey(secret, "access-token")
    async with pool.connection() as conn:
        await migrate(conn)
        await bootstrap(conn, config.data_dir, config.admin_key, pepper)
    cache = SchemaCache(pool)
    authenticator = Authenticator(pool, pepper, token_key)
    server = grpc.aio.server(
        interceptors=[CoreInterceptor(authenticator, cache.invalidate, SIGNED_METHODS)],
        options=SERVER_OPTIONS,
    )
    auth = AuthServicer(
        pool,
        pepper=pepper,
        token_key=token_key,
        access_seconds=config.access_token_seconds,
        refresh_seconds=config.refresh_token_seconds,
    )
    auth_service_pb2_grpc.add_AuthServiceServicer_to_server(auth, server)
    schema_service_pb2_grpc.add_SchemaServiceServicer_to_server(SchemaServicer(pool, cache), server)
    records = RecordServicer(
        pool,
        cache,
        max_batch_mutation=config.max_batch_mutation,
        import_id_buffer=config.import_id_buffer,
        restore_within_seconds=config.restore_within_seconds,
    )
    record_service_pb2_grpc.add_RecordServiceServicer_to_server(records, server)
    # Leases, acks and nacks commit without waiting for the WAL flush: losing one in a
    # crash only means a job is delivered again (at-least-once holds). Enqueues do wait.
    settle_pool = await open_pool(
        url, 1, max(2, config.pool_max // 2), synchronous_commit=False, name="plinth-queue"
    )
    queue = Queue(pool, Wakeups(), settle_pool)
    queue_service_pb2_grpc.add_QueueServiceServicer_to_server(QueueServicer(queue), server)
    kv_cache = KvCache(pool, config.redis_url, config.kv_cache_ttl)
    kv_service_pb2_grpc.add_KeyValueServiceServicer_to_server(
        KeyValueServicer(pool, kv_cache), server
    )
    storage = await open_storage(config)
    file_service_pb2_grpc.add_FileServiceServicer_to_server(
        FileServicer(pool, storage, file_rules(config), config.files_url_seconds), server
    )
    health_pb2_grpc.add_HealthServicer_to_server(DatabaseHealth(pool), server)
    reflection.enable_server_reflection(
        (
            schema_service_pb2.DESCRIPTOR.services_by_name["SchemaService"].full_name,
            record_service_pb2.DESCRIPTOR.services_by_name["RecordService"].full_name,
            queue_service_pb2.DESCRIPTOR.services_by_name["QueueService"].full_name,
            kv_service_pb2.DESCRIPTOR.services_by_name["KeyValueService"].full_name,
            file_service_pb2.DESCRIPTOR.services_by_name["FileService"].full_name,
            auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(addr or config.addr)
    await server.start()
    core = Core(server, port, pool, cache, pools=[settle_pool], storage=storage)
    core.tasks.append(asyncio.create_task(cache.listen(url), name="schema-listener"))
    core.tasks.append(asyncio.create_task(authenticator.listen(url), name="auth-listener"))
    core.tasks.append(asyncio.create_task(authenticator.keep_last_used(), name="api-key-last-used"))
    core.tasks.append(asyncio.create_task(kv_cache.listen(url), name="kv-listener"))
    core.tasks.append(asyncio.create_task(queue.wakeups.listen(url), name="queue-listener"))
    core.tasks.append(
        asyncio.create_task(run_internal(queue, internal_tasks(config)), name="queue-internal")
    )
    if config.metrics_addr and metrics.serve(
        config.metrics_addr, {"main": pool, "queue": settle_pool}
    ):
        core.tasks.append(asyncio.create_task(metrics.count_queue_depth(pool), name="queue-depth"))
    return core


def internal_tasks(config: CoreConfig) -> list[Periodic]:
    """Core's periodic work, run as jobs of the internal queue (core/queue/internal.py)."""
    tasks = []
    if config.kv_sweep_seconds > 0:
        tasks.append(Periodic("kv.sweep_expired", config.kv_sweep_seconds, sweep_expired))
    if config.queue_keep_done_seconds > 0:
        run = functools.partial(purge.purge_done, keep_seconds=config.queue_keep_done_seconds)
        tasks.append(Periodic("queue.purge_done", purge.EVERY_SECONDS, run))
    return tasks
