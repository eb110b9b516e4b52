"""grpc.health.v1.Health whose answer includes the database: SERVING only if Postgres answers."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2
from psycopg_pool import AsyncConnectionPool


class DatabaseHealth(health.aio.HealthServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        super().__init__()
        self._pool = pool

    async def Check(self, request, context):
        try:
            async with self._pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception:
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
