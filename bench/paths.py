"""The clients of the paths a benchmark compares: plain SQL on core's pool settings, gRPC
on one channel, REST on the raw keep-alive client. Scripts add their own requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

import grpc
from psycopg_pool import AsyncConnectionPool

from bench.load import RestPool
from bench.stack import Stack
from core.db.pool import open_pool


class SqlPath:
    """Core's pool settings (prepared statements, UTC, autocommit) and core's pattern:
    a pooled connection per statement."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, stack: Stack, size: int) -> SqlPath:
        return cls(await open_pool(stack.database_url(), size, size))

    async def fetch(self, statement: tuple[Any, Any]) -> tuple:
        """The statement's first row: (text, params), the text a str or a psycopg sql.SQL."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(*statement)
            row = await cur.fetchone()
        if row is None:
            raise RuntimeError(f"the statement returned no row for {statement[1]}")
        return row

    async def close(self) -> None:
        await self.pool.close()


class GrpcPath:
    """One grpc.aio channel (one HTTP/2 connection) to core, a generated stub on it (the
    subclass's `stub_class`) and the metadata that sends the admin key."""

    stub_class: ClassVar[Callable[[grpc.aio.Channel], Any]]

    def __init__(self, stack: Stack) -> None:
        self._channel = grpc.aio.insecure_channel(stack.core_addr)
        self.stub = self.stub_class(self._channel)
        self.metadata = (("authorization", f"Bearer {stack.admin_key}"),)

    async def close(self) -> None:
        await self._channel.close()


class RestPath:
    """The raw keep-alive client of bench/load.py, one connection per request in flight."""

    def __init__(self, pool: RestPool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, stack: Stack, size: int) -> Self:
        return cls(await RestPool.open(stack, size))

    async def close(self) -> None:
        await self.pool.close()
