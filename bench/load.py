"""Load generation and reporting shared by the benchmarks: a raw HTTP/1.1 client,
the closed-loop driver and its measurement, latency and CPU tables, and checks on the
database and on the answers."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
import psycopg

from bench.stack import Stack, machine_busy_seconds
from core.auth.keys import hash_key
from core.query.compile import Statement

CALL_TIMEOUT = 30.0
NOTE = (
    "The load generator (one asyncio process) shares the {cpus} CPUs with core, the REST"
    " gateway and Postgres: every path pays for its own client side too."
)
NOISY = 0.10  # share of the CPUs used by other processes above which a report warns
T = TypeVar("T")


class LoadConfig(Protocol):
    """What the driver and the runner read of a script's Config."""

    @property
    def concurrency(self) -> int: ...
    @property
    def duration(self) -> float: ...
    @property
    def warmup(self) -> float: ...
    @property
    def max_requests(self) -> int: ...
    @property
    def pool_size(self) -> int: ...
    @property
    def json(self) -> bool: ...


def progress(message: str) -> None:
    # stderr, so that --json output on stdout stays parseable.
    print(message, file=sys.stderr, flush=True)


async def space_id(conn: psycopg.AsyncConnection, admin_key: str) -> str:
    cur = await conn.execute(
        "SELECT space_id::text FROM plinth.api_keys WHERE key_hash = %s", [hash_key(admin_key)]
    )
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("the admin key is not in plinth.api_keys")
    return row[0]


async def check_connections(conn: psycopg.AsyncConnection, pool_size: int) -> None:
    cur = await conn.execute("SELECT current_setting('max_connections')::int")
    (limit,) = await cur.fetchone()
    # Core's pool, the SQL path's pool, core's schema listener and a few spare.
    if 2 * pool_size + 5 > limit:
        raise SystemExit(f"--pool-size {pool_size} is too large for max_connections={limit}")


async def create_collection(stack: Stack, schema: dict[str, Any]) -> None:
    """Through the schema API, so core knows the collection and creates its indexes."""
    async with httpx.AsyncClient(base_url=stack.rest_url, headers=stack.headers()) as client:
        response = await client.post("/api/v1/schema/collections", json=schema, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(
            f"creating {schema['name']}: HTTP {response.status_code} {response.text}"
        )


async def show_plans(conn: psycopg.AsyncConnection, shown: dict[str, Statement]) -> None:
    """Each statement with its EXPLAIN ANALYZE, on stderr (--explain)."""
    for name, (text, params) in shown.items():
        cur = await conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, SUMMARY) {text}", params)
        lines = "\n".join(f"    {row[0]}" for row in await cur.fetchall())
        progress(f"-- {name}:\n    {text}\n    {params}\n{lines}")


def same_answer(case: str, rest: Any, sql_answer: Any) -> None:
    if rest != sql_answer:
        raise RuntimeError(
            f"{case}: REST and SQL answers differ:\n  REST {str(rest)[:300]}\n"
            f"  SQL  {str(sql_answer)[:300]}"
        )


class HttpConnection:
    """Keep-alive HTTP/1.1 on one socket, Content-Length bodies only (what Sanic sends)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self._writer.write(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))
        header = await self._reader.readuntil(b"\r\n\r\n")
        start = header.lower().find(b"\r\ncontent-length:")
        if start < 0:
            raise RuntimeError(f"no Content-Length in response: {header[:200]!r}")
        length = int(header[start + 17 : header.index(b"\r\n", start + 2)])
        return int(header[9:12]), await self._reader.readexactly(length)

    @classmethod
    async def open(cls, rest_url: str) -> HttpConnection:
        name, _, port = rest_url.removeprefix("http://").rpartition(":")
        return cls(*await asyncio.open_connection(name, int(port)))

    def close(self) -> None:
        self._writer.close()


class RestPool:
    """As many keep-alive connections as requests in flight, each used by one at a time."""

    def __init__(self, host: str, admin_key: str, connections: list[HttpConnection]) -> None:
        self._host = host
        self._auth = f"Authorization: Bearer {admin_key}\r\n".encode()
        self._idle: asyncio.LifoQueue[HttpConnection] = asyncio.LifoQueue()
        for connection in connections:
            self._idle.put_nowait(connection)

    @classmethod
    async def open(cls, stack: Stack, size: int) -> RestPool:
        connections = [await HttpConnection.open(stack.rest_url) for _ in range(size)]
        return cls(stack.rest_url.removeprefix("http://"), stack.admin_key, connections)

    async def request(self, method: str, path: str, body: bytes = b"", expect: int = 200) -> bytes:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
        ).encode() + self._auth
        connection = await self._idle.get()
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                status, answer = await connection.request(head, body)
        finally:
            self._idle.put_nowait(connection)
        if status != expect:
            raise RuntimeError(f"REST {method} {path}: HTTP {status}: {answer[:300]!r}")
        return answer

    async def get(self, path: str) -> bytes:
        return await self.request("GET", path)

    async def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()


@dataclass
class Result:
    operation: str
    path: str
    requests: int
    seconds: float
    latencies: list[float] = field(repr=False)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process
    others: float = 0.0  # CPU seconds of processes that are not part of the benchmark

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def cpu_us_per_request(self) -> dict[str, float]:
        return {name: seconds / self.requests * 1e6 for name, seconds in self.cpu.items()}

    def summary(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "path": self.path,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "req_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile_ms(0.50), 3),
            "p99_ms": round(self.percentile_ms(0.99), 3),
            "cpu_us_per_request": {k: round(v, 1) for k, v in self.cpu_us_per_request().items()},
            "cpu_seconds_of_other_processes": round(self.others, 2),
        }


async def drive(
    call: Callable[[], Awaitable[object]], concurrency: int, seconds: float, limit: int
) -> tuple[list[float], float]:
    """`concurrency` workers call back to back until the time or the request limit is up.

    Returns the latencies and the wall time (which includes the last requests' tails).
    """
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline and len(latencies) < limit:
            sent = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - sent)

    # A TaskGroup: the first failure cancels the other workers and ends the run.
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return latencies, time.perf_counter() - start


def cpu_meter(stack: Stack) -> Callable[[], tuple[dict[str, float], float]]:
    """Starts counting; the function returned tells the CPU seconds used since by each
    process of the stack, and by the processes outside it."""
    before, machine = stack.cpu_seconds(), machine_busy_seconds()

    def used() -> tuple[dict[str, float], float]:
        after, busy = stack.cpu_seconds(), machine_busy_seconds() - machine
        cpu = {role: after[role] - before.get(role, 0.0) for role in after}
        return cpu, max(busy - sum(cpu.values()), 0.0)

    return used


async def measure_call(
    call: Callable[[], Awaitable[object]],
    operation: str,
    path: str,
    stack: Stack,
    config: LoadConfig,
) -> Result:
    """One case: a warm-up, then the measured run with the CPU each process used."""
    # Warm-up: connections, prepared statements, the schema cache and the auth cache.
    await drive(call, config.concurrency, config.warmup, config.max_requests)
    used = cpu_meter(stack)
    latencies, seconds = await drive(call, config.concurrency, config.duration, config.max_requests)
    cpu, others = used()
    return Result(operation, path, len(latencies), seconds, latencies, cpu, others)


def throughput_table(results: list[Result]) -> list[str]:
    lines = [
        f"{'operation':<10}{'path':<6}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'vs SQL':>8}"
    ]
    sql_rate = {r.operation: r.rate for r in results if r.path == "SQL"}
    for r in results:
        lines.append(
            f"{r.operation:<10}{r.path:<6}{r.requests:>10,}{r.rate:>10,.0f}"
            f"{r.percentile_ms(0.5):>9.2f}{r.percentile_ms(0.99):>9.2f}"
            f"{r.rate / sql_rate[r.operation]:>8.2f}"
        )
    return lines


def cpu_table(results: list[Result], cpus: int) -> list[str]:
    roles = ("client", "rest", "core", "postgres")
    lines = [
        "CPU µs per request (user+system); share of all CPUs used by the benchmark and by others:",
        f"{'operation':<10}{'path':<6}" + "".join(f"{r:>10}" for r in roles) + f"{'total':>9}"
        f"{'busy':>7}{'others':>8}",
    ]
    for r in results:
        per = r.cpu_us_per_request()
        busy = sum(r.cpu.values()) / (r.seconds * cpus)
        lines.append(
            f"{r.operation:<10}{r.path:<6}"
            + "".join(f"{per.get(role, 0.0):>10.0f}" for role in roles)
            + f"{sum(per.values()):>9.0f}{busy:>7.0%}{r.others / (r.seconds * cpus):>8.0%}"
        )
    return lines


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop, as the servers run: a cheaper client loop leaves more CPU to them."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def ratios(results: list[Result]) -> dict[str, dict[str, float]]:
    """Per operation: REST/SQL and gRPC/SQL of req/s, of the paths measured (1.0 would be
    as fast as plain SQL)."""
    rate = {(r.operation, r.path): r.rate for r in results}
    ops = dict.fromkeys(r.operation for r in results)
    return {
        op: {
            f"{path}/SQL": rate[op, path] / rate[op, "SQL"]
            for path in ("REST", "gRPC")
            if (op, path) in rate
        }
        for op in ops
    }


def rest_over_sql(results: list[Result]) -> dict[str, float]:
    """Per case: REST/SQL of req/s, for the benchmarks without a gRPC path."""
    return {case: pair["REST/SQL"] for case, pair in ratios(results).items()}


def paths_report(results: list[Result], config: LoadConfig, cpus: int, details: str) -> str:
    """The text report of REST and gRPC against SQL; `details` ends the line on the settings."""
    lines = [*throughput_table(results), ""]
    for operation, pair in ratios(results).items():
        lines.append(
            f"{operation:<7} REST/SQL {pair['REST/SQL']:.2f}   gRPC/SQL {pair['gRPC/SQL']:.2f}"
        )
    lines += ["", *cpu_table(results, cpus), ""]
    lines.append(
        f"concurrency {config.concurrency}, DB pools {config.pool_size}, {config.duration:g}s per"
        f" case, {details}."
    )
    lines.append(NOTE.format(cpus=cpus))
    return "\n".join(lines)


class Measured(Protocol):
    @property
    def seconds(self) -> float: ...
    @property
    def others(self) -> float: ...


def others_share(measured: Iterable[Measured], cpus: int) -> float:
    """The largest share of all CPUs used by processes outside the benchmark in one case."""
    return max((m.others / (m.seconds * cpus) for m in measured), default=0.0)


def noise_warning(measured: Iterable[Measured], cpus: int) -> list[str]:
    """A line for the report when other processes used more than NOISY of the CPUs."""
    noise = others_share(measured, cpus)
    if noise <= NOISY:
        return []
    return [
        f"Other processes used up to {noise:.0%} of the CPUs during a measurement:"
        " the machine was not quiet, rerun for stable figures."
    ]


def report_json(config: Any, cpus: int, **figures: Any) -> str:
    """The run as JSON: `config` is the script's settings dataclass, the note comes last."""
    report = {"config": asdict(config), "cpus": cpus, **figures, "note": NOTE.format(cpus=cpus)}
    return json.dumps(report, indent=2)


def as_json(results: list[Result], config: Any, cpus: int) -> str:
    """A run of REST and gRPC against SQL as JSON."""
    return report_json(
        config,
        cpus,
        results=[r.summary() for r in results],
        ratios={
            op: {k: round(v, 3) for k, v in pair.items()} for op, pair in ratios(results).items()
        },
    )
