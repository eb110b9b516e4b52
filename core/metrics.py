"""Core's Prometheus metrics (docs/observability.md), served on their own port.

Counters are bumped where the event happens (the interceptor, the queue, the caches);
the pool is read at scrape time; queue depth is counted every DEPTH_SECONDS, since a
scrape must not wait on the database.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("plinth.core")

DEPTH_SECONDS = 15.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)

GRPC_CALLS = Counter(
    "plinth_grpc_calls", "gRPC calls core answered, by method and status code", ["method", "code"]
)
GRPC_SECONDS = Histogram(
    "plinth_grpc_call_seconds", "Time core took per gRPC call", ["method"], buckets=LATENCY_BUCKETS
)
JOB_OUTCOMES = Counter(
    "plinth_queue_job_outcomes",
    "Settled jobs by topic and outcome (done, failed, dead)",
    ["topic", "outcome"],
)
QUEUE_JOBS = Gauge("plinth_queue_jobs", "Unfinished jobs by topic and status", ["topic", "status"])
CACHE_LOOKUPS = Counter(
    "plinth_cache_lookups",
    "Cache lookups by cache (kv, schema) and result (hit, miss)",
    ["cache", "result"],
)

_DEPTH = """
SELECT topic, status, count(*) FROM plinth.jobs
WHERE status IN ('queued', 'leased', 'failed', 'dead') GROUP BY topic, status
"""


class PoolCollector(Collector):
    """The database pools' connections in use, idle and callers waiting, at scrape time."""

    def __init__(self, pools: dict[str, AsyncConnectionPool]) -> None:
        self._pools = pools

    def collect(self):
        family = GaugeMetricFamily(
            "plinth_db_pool_connections",
            "Database pool connections by state",
            labels=["pool", "state"],
        )
        for name, pool in self._pools.items():
            stats = pool.get_stats()
            size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
            family.add_metric([name, "in_use"], size - idle)
            family.add_metric([name, "idle"], idle)
            family.add_metric([name, "waiting"], stats.get("requests_waiting", 0))
        yield family


def serve(addr: str, pools: dict[str, AsyncConnectionPool]) -> bool:
    """Serve /metrics on addr ("host:port"); False (and a warning) when the port is taken,
    as it is for the second of several core processes on one machine."""
    REGISTRY.register(PoolCollector(pools))
    host, _, port = addr.rpartition(":")
    try:
        start_http_server(int(port), addr=host or "127.0.0.1")
    except OSError as exc:
        log.warning("metrics not served on %s: %s", addr, exc)
        return False
    log.info("metrics on http://%s/metrics", addr)
    return True


async def count_queue_depth(pool: AsyncConnectionPool) -> None:
    """Refresh plinth_queue_jobs until cancelled."""
    while True:
        try:
            async with pool.connection() as conn:
                rows = await (await conn.execute(_DEPTH)).fetchall()
            QUEUE_JOBS.clear()
            for topic, status, count in rows:
                QUEUE_JOBS.labels(topic, status).set(count)
        except Exception as exc:  # the database may be away; readiness reports that
            log.debug("queue depth not counted: %s", exc)
        await asyncio.sleep(DEPTH_SECONDS)
