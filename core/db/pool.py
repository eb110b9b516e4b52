"""The psycopg 3 async connection pool every core request draws from."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# Statements are prepared on their second use; plans are per shape, so a
# steady workload runs prepared statements only.
PREPARE_THRESHOLD = 1


async def _configure(conn: AsyncConnection) -> None:
    conn.prepare_threshold = PREPARE_THRESHOLD


async def open_pool(
    url: str, min_size: int, max_size: int, *, synchronous_commit: bool = True, name: str = "plinth"
) -> AsyncConnectionPool:
    """synchronous_commit=False: commits return before their WAL is flushed (a crash may
    lose the last few ms of them) — only for writes whose loss is safe to repeat."""
    options = "-c TimeZone=UTC" + ("" if synchronous_commit else " -c synchronous_commit=off")
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        # Autocommit: a one-statement request costs one round trip, not BEGIN/…/COMMIT.
        # Multi-statement work opens its own transaction (conn.transaction()).
        kwargs={
            "options": options,
            "application_name": "plinth-core",
            "autocommit": True,
        },
        configure=_configure,
        open=False,
        name=name,
    )
    await pool.open(wait=True, timeout=30)
    return pool
