"""Query throughput: a filtered, sorted list with its total, a cursor page, a grouped aggregate
and a whole-collection export, each through the REST gateway and the same SQL through psycopg
directly, in one run. Prints req/s, latency, the ratio REST/SQL per case next to the targets,
export rows/s of both paths, and CPU per request of each process.

    .venv/bin/python -m bench.query [--rows 100000] [--concurrency 16] [--duration 8] [--json]

The load generator is one asyncio process on the same machine as the servers, so each path
shares the CPUs with it: the numbers say what the layers cost on this box, not over a network.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import orjson
import psycopg
from google.protobuf import struct_pb2
from plinth.v1 import query_pb2
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from bench.cli import add_load_options, config_from, run
from bench.load import (
    NOTE,
    RestPool,
    Result,
    check_connections,
    cpu_meter,
    cpu_table,
    create_collection,
    measure_call,
    noise_warning,
    others_share,
    progress,
    report_json,
    rest_over_sql,
    same_answer,
    show_plans,
    space_id,
    throughput_table,
)
from bench.paths import SqlPath
from bench.stack import Stack
from core.query import ast, compile, plan
from core.schema.cache import load_space
from core.schema.model import CollectionSpec

COLLECTION = "bench_query"
STATUSES = ("active", "draft", "archived")
SCHEMA = {
    "name": COLLECTION,
    "mode": "strict",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "status", "type": "enum", "values": list(STATUSES), "index": True},
        {"name": "category", "type": "string"},
        {"name": "price", "type": "float", "index": True},
        {"name": "qty", "type": "integer"},
    ],
}

# The queries, as a REST client writes them; the SQL path builds the same request core
# receives from the gateway (filter values stay text: core coerces them to the field type).
FILTER = (("status", "eq", "active"), ("price", "gte", "100"))
SORT = ("price", True)  # sort=-price
LIMIT = 20
AGGREGATES = (("count", "*"), ("avg", "price"))
GROUP_BY = ("status",)

CASES = ("list", "cursor", "aggregate")
FORMATS = ("ndjson", "csv")
PATHS = ("SQL", "REST")
EXPORT_TIMEOUT = 300.0
# From the issue: REST list throughput against plain SQL, and export rows/s.
LIST_TARGET, LIST_GOAL = 0.35, 0.5
EXPORT_TARGET = 100_000


# --- configuration -----------------------------------------------------------


@dataclass(frozen=True)
class Config:
    rows: int
    concurrency: int
    duration: float
    warmup: float
    max_requests: int
    pool_size: int
    cases: tuple[str, ...]
    formats: tuple[str, ...]
    export_runs: int
    cursor_pages: int
    seed: int
    explain: bool
    json: bool


def _choices(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what} {unknown}; use {','.join(allowed)}")
    return chosen


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows seeded with SQL")
    add_load_options(parser, concurrency=16, per="case")
    parser.add_argument(
        "--cases",
        type=lambda t: _choices(t, CASES, "case"),
        default=CASES,
        help=f"request cases to measure (default {','.join(CASES)}; empty for none)",
    )
    parser.add_argument(
        "--formats",
        type=lambda t: _choices(t, FORMATS, "format"),
        default=FORMATS,
        help=f"export formats (default {','.join(FORMATS)}; empty: no export)",
    )
    parser.add_argument("--export-runs", type=int, default=3, help="measured exports per path")
    parser.add_argument(
        "--cursor-pages", type=int, default=50, help="pages after the first one that cursor reads"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for data and pages")
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if min(args.rows, args.concurrency, args.export_runs, args.cursor_pages) < 1:
        parser.error("--rows, --concurrency, --export-runs and --cursor-pages must be positive")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    return config_from(Config, args)


# --- the requests: REST query strings, and the SQL core composes for them -----------------


def rest_list_args(cursor: str | None = None, *, offset_paging: bool = True) -> list[tuple]:
    args = [(f"filter[{f}][{op}]", value) for f, op, value in FILTER]
    args += [("sort", ("-" if SORT[1] else "") + SORT[0]), ("limit", str(LIMIT))]
    if not offset_paging:
        args.append(("cursor", cursor or ""))
    return args


def rest_path(args: list[tuple]) -> str:
    return f"/api/v1/{COLLECTION}?{urlencode(args)}"


def rest_aggregate_path() -> str:
    args = [(f"aggregate[{function}]", name) for function, name in AGGREGATES]
    return rest_path([*args, ("groupBy", ",".join(GROUP_BY))])


def request_filter() -> query_pb2.Filter:
    """The filter the gateway sends for FILTER: an all_of of conditions with text values."""
    conditions = [
        query_pb2.Filter(
            condition=query_pb2.Condition(
                field=name,
                operator=getattr(query_pb2, f"OPERATOR_{op.upper()}"),
                value=struct_pb2.Value(string_value=value),
            )
        )
        for name, op, value in FILTER
    ]
    return (
        conditions[0]
        if len(conditions) == 1
        else query_pb2.Filter(all_of=query_pb2.FilterList(filters=conditions))
    )


def list_page(
    collection: CollectionSpec, *, with_total: bool, after: list[str | None] | None
) -> compile.Page:
    """The page ListRecords plans for the list query: offset paging (with its total), or
    cursor paging (no total) from the start or after a position."""
    return compile.Page(
        node=plan.plan_filter(collection, ast.from_proto(request_filter())),
        sort=plan.plan_sort(collection, [ast.Sort(SORT[0], SORT[1])]),
        selection=plan.plan_fields(collection, []),
        limit=plan.plan_limit(LIMIT),
        offset=plan.plan_offset(0, 0, LIMIT),
        with_total=with_total,
        after=after,
    )


@dataclass(frozen=True)
class Statements:
    """The SQL text and parameters of each request, composed by core's own functions from
    what ListRecords / AggregateRecords / ExportRecords plan for the REST requests."""

    schema_name: str
    collection: CollectionSpec
    list: compile.Statement
    aggregate: compile.Statement
    export: dict[str, compile.Statement]

    def cursor_page(self, after: list[str | None] | None) -> compile.Statement:
        """A page of cursor paging: the first one, or the one after `after`."""
        page = list_page(self.collection, with_total=False, after=after)
        return compile.select_page(self.schema_name, self.collection, page)

    @classmethod
    def compose(cls, schema_name: str, collection: CollectionSpec) -> Statements:
        first = list_page(collection, with_total=True, after=None)
        aggregate = compile.aggregate(
            schema_name,
            collection,
            None,  # no filter
            "",
            plan.plan_aggregates(collection, list(AGGREGATES)),
            plan.plan_group_by(collection, list(GROUP_BY)),
        )
        # The REST export: no filter, no sort (so by id), every field.
        export = {
            name: compile.export(
                schema_name,
                collection,
                None,
                "",
                plan.plan_sort(collection, []),
                plan.plan_fields(collection, []),
                csv=name == "csv",
            )
            for name in FORMATS
        }
        return cls(
            schema_name,
            collection,
            list=compile.select_page(schema_name, collection, first),
            aggregate=aggregate,
            export=export,
        )


# --- the data ------------------------------------------------------------------------------

# Deterministic (setseed) and skewed like a product catalogue: 60 % active, 25 % draft,
# 15 % archived; prices log-uniform from 1 to 5,000 (46 % at 100 or more); 25 categories,
# the first ones far more common; creation times 30 s apart, the newest now.
SEED_ROWS = """
INSERT INTO {table} (name, status, category, price, qty, created_at, updated_at)
SELECT 'item-' || n,
       CASE WHEN r1 < 0.60 THEN 'active' WHEN r1 < 0.85 THEN 'draft' ELSE 'archived' END,
       'category-' || lpad(floor(25 * r3 * r3)::int::text, 2, '0'),
       round(exp(r2 * ln(5000))::numeric, 2)::float8,
       floor(r4 * 1000)::bigint,
       at, at
FROM (SELECT n, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
             now() - ({rows} - n) * interval '30 seconds' AS at
      FROM generate_series(1, {rows}) AS n OFFSET 0) AS s
"""


async def seed_and_compose(stack: Stack, config: Config) -> Statements:
    """Fill the collection's table with one INSERT … SELECT, VACUUM ANALYZE it, and compose
    the statements core runs for the benchmark's requests."""
    async with await psycopg.AsyncConnection.connect(stack.database_url(), autocommit=True) as conn:
        await check_connections(conn, config.pool_size)
        space = await load_space(conn, await space_id(conn, stack.admin_key))
        collection = space.collections[COLLECTION]
        target = sql.Identifier(space.schema_name, COLLECTION)
        started = time.perf_counter()
        await conn.execute("SELECT setseed(%s)", [1 / (config.seed + 1)])
        query = sql.SQL(SEED_ROWS).format(table=target, rows=sql.Literal(config.rows))
        await conn.execute(query)
        await conn.execute(sql.SQL("VACUUM ANALYZE {}").format(target))
        progress(f"  {config.rows:,} rows in {time.perf_counter() - started:.1f}s")
        statements = Statements.compose(space.schema_name, collection)
        if config.explain:
            await explain(conn, statements)
        return statements


async def explain(conn: psycopg.AsyncConnection, statements: Statements) -> None:
    first = statements.cursor_page(None)
    cur = await conn.execute(*first)
    _, _, keys, _ = await cur.fetchone()
    shown = {
        "list": statements.list,
        "cursor (2nd page)": statements.cursor_page(orjson.loads(keys)[-1]),
        "aggregate": statements.aggregate,
    }
    await show_plans(conn, shown)


# --- checks: both paths answer the same before anything is measured ----------------------


def token_position(token: str) -> list[str | None]:
    """The keyset position inside a cursor token (base64url JSON [fingerprint, position])."""
    return orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))[1]


@dataclass
class CursorPages:
    """Pages 2 … n+1 of the cursor walk: REST tokens and the SQL for the same positions."""

    tokens: list[str] = field(default_factory=list)
    statements: list[compile.Statement] = field(default_factory=list)


async def walk_cursor(
    rest: RestPool, db: SqlPath, statements: Statements, pages: int
) -> CursorPages:
    """Follow next_cursor through REST and the page positions through SQL, page by page,
    checking that both paths see the same records at the same positions."""
    walk = CursorPages()
    token: str | None = ""
    after: list[str | None] | None = None
    for number in range(1, pages + 2):
        body = orjson.loads(await rest.get(rest_path(rest_list_args(token, offset_paging=False))))
        statement = statements.cursor_page(after)
        records, has_more, keys, _ = await db.fetch(statement)
        same_answer(
            f"cursor page {number}",
            (body["data"], body["meta"]["has_more"]),
            (orjson.loads(records), has_more),
        )
        if number > 1:
            walk.tokens.append(token)
            walk.statements.append(statement)
        token, after = body["meta"]["next_cursor"], orjson.loads(keys)[-1]
        if not has_more or token is None:
            break
        same_answer(f"cursor after page {number}", token_position(token), after)
    if not walk.tokens:
        raise RuntimeError("the cursor walk found a single page: seed more rows")
    return walk


async def check_answers(rest: RestPool, db: SqlPath, statements: Statements) -> None:
    body = orjson.loads(await rest.get(rest_path(rest_list_args())))
    records, _, _, total = await db.fetch(statements.list)
    same_answer("list", (body["data"], body["meta"]["total"]), (orjson.loads(records), total))
    body = orjson.loads(await rest.get(rest_aggregate_path()))
    (groups,) = await db.fetch(statements.aggregate)
    same_answer("aggregate", body["data"], orjson.loads(groups))


# --- request cases ---------------------------------------------------------------------------


@dataclass
class Workload:
    statements: Statements
    cursor: CursorPages
    seed: int

    def caller(self, case: str, path: SqlPath | RestPool) -> Callable[[], Awaitable[object]]:
        # Each path draws the same sequence of cursor pages.
        rng = random.Random(self.seed)
        pages = len(self.cursor.tokens)
        if isinstance(path, SqlPath):
            chosen = {
                "list": lambda: self.statements.list,
                "cursor": lambda: self.cursor.statements[rng.randrange(pages)],
                "aggregate": lambda: self.statements.aggregate,
            }[case]
            return lambda: path.fetch(chosen())
        list_path, aggregate_path = rest_path(rest_list_args()), rest_aggregate_path()
        cursor_paths = [
            rest_path(rest_list_args(token, offset_paging=False)) for token in self.cursor.tokens
        ]
        chosen = {
            "list": lambda: list_path,
            "cursor": lambda: cursor_paths[rng.randrange(pages)],
            "aggregate": lambda: aggregate_path,
        }[case]
        return lambda: path.get(chosen())


# --- exports -------------------------------------------------------------------------------


@dataclass
class ExportResult:
    path: str
    format: str
    rows: int  # per export
    size: int  # bytes per export
    times: list[float]  # seconds of each measured export
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process, all runs
    others: float = 0.0

    @property
    def seconds(self) -> float:
        return sum(self.times)

    @property
    def rows_per_s(self) -> float:
        return self.rows * len(self.times) / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.size * len(self.times) / self.seconds / 1e6

    def cpu_ms_per_100k_rows(self) -> dict[str, float]:
        rows = self.rows * len(self.times)
        return {role: seconds / rows * 1e8 for role, seconds in self.cpu.items()}

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "exports": len(self.times),
            "rows_per_export": self.rows,
            "bytes_per_export": self.size,
            "median_s": round(statistics.median(self.times), 3),
            "rows_per_s": round(self.rows_per_s),
            "mb_per_s": round(self.mb_per_s, 1),
            "cpu_ms_per_100k_rows": {
                k: round(v, 1) for k, v in self.cpu_ms_per_100k_rows().items()
            },
            "cpu_seconds_of_other_processes": round(self.others, 2),
        }


def _lines(data: bytes | memoryview) -> int:
    return bytes(data).count(b"\n")


async def sql_export(pool: AsyncConnectionPool, statement: compile.Statement) -> tuple[int, int]:
    """COPY … TO STDOUT through a pooled connection, as core runs it: (lines, bytes)."""
    lines = size = 0
    async with pool.connection() as conn, conn.cursor() as cur:
        async with cur.copy(*statement) as copy:
            async for data in copy:
                lines += _lines(data)
                size += len(data)
    return lines, size


async def _http_body(reader: asyncio.StreamReader, header: bytes) -> AsyncIterator[bytes]:
    """The body of a response as it arrives: chunked (a streamed export) or Content-Length."""
    lower = header.lower()
    if b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the end
                    pass
                return
            chunk = await reader.readexactly(size + 2)
            yield chunk[:-2]
        return
    start = lower.find(b"\r\ncontent-length:")
    if start < 0:
        raise RuntimeError(f"neither chunked nor Content-Length: {header[:200]!r}")
    yield await reader.readexactly(int(lower[start + 17 : lower.index(b"\r\n", start + 2)]))


async def rest_export(stack: Stack, export_format: str) -> tuple[int, int]:
    """GET …/export on a fresh connection, read to the end as it streams: (lines, bytes)."""
    host, _, port = stack.rest_url.removeprefix("http://").rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 20)
    path = f"/api/v1/{COLLECTION}/export?format={export_format}"
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {stack.admin_key}\r\n\r\n".encode()
        )
        header = await reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        lines = size = 0
        async for chunk in _http_body(reader, header):
            if status != 200:
                raise RuntimeError(f"REST GET {path}: HTTP {status}: {chunk[:300]!r}")
            lines += _lines(chunk)
            size += len(chunk)
        return lines, size
    finally:
        writer.close()


async def measure_export(
    path: str,
    export_format: str,
    stack: Stack,
    pool: AsyncConnectionPool,
    config: Config,
    statements: Statements,
) -> ExportResult:
    def once() -> Awaitable[tuple[int, int]]:
        if path == "SQL":
            return sql_export(pool, statements.export[export_format])
        return rest_export(stack, export_format)

    async def timed() -> tuple[float, int, int]:
        started = time.perf_counter()
        async with asyncio.timeout(EXPORT_TIMEOUT):
            lines, size = await once()
        return time.perf_counter() - started, lines, size

    header = 1 if export_format == "csv" else 0
    _, lines, size = await timed()  # warm-up, and the row count to expect
    if lines - header != config.rows:
        raise RuntimeError(
            f"{path} {export_format} export: {lines - header:,} rows, expected {config.rows:,}"
        )
    used = cpu_meter(stack)
    times = []
    for _ in range(config.export_runs):
        seconds, again, _ = await timed()
        if again != lines:
            raise RuntimeError(f"{path} {export_format} export: {again} lines, then {lines}")
        times.append(seconds)
    cpu, others = used()
    return ExportResult(path, export_format, lines - header, size, times, cpu, others)


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    exports: list[ExportResult] = field(default_factory=list)

    def measured(self) -> list[Result | ExportResult]:
        return [*self.results, *self.exports]


async def bench(stack: Stack, config: Config) -> Report:
    progress(f"creating {COLLECTION} (indexes on status and price) and seeding with SQL")
    await create_collection(stack, SCHEMA)
    statements = await seed_and_compose(stack, config)
    report = Report()
    db = await SqlPath.open(stack, config.pool_size)
    rest = await RestPool.open(stack, config.concurrency)
    try:
        if config.cases:
            progress("checking that REST and SQL answer alike (list, aggregate, cursor walk)")
            await check_answers(rest, db, statements)
            pages = await walk_cursor(rest, db, statements, config.cursor_pages)
            load = Workload(statements, pages, config.seed)
        for case in config.cases:
            for name, path in (("SQL", db), ("REST", rest)):
                progress(
                    f"{case:>9} via {name:<4}: {config.warmup:g}s warm-up, {config.duration:g}s"
                )
                call = load.caller(case, path)
                report.results.append(await measure_call(call, case, name, stack, config))
                progress(f"{'':>18}{report.results[-1].rate:,.0f} req/s")
        for export_format in config.formats:
            for name in PATHS:
                progress(f"{export_format:>9} export via {name:<4}: 1 + {config.export_runs} runs")
                result = await measure_export(
                    name, export_format, stack, db.pool, config, statements
                )
                report.exports.append(result)
                progress(f"{'':>25}{result.rows_per_s:,.0f} rows/s")
    finally:
        await rest.close()
        await db.close()
    return report


# --- report ----------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "ok" if ok else "BELOW TARGET"


def ratio_lines(report: Report) -> list[str]:
    lines = [f"{'REST/SQL':<10}{'measured':>9}   target"]
    for case, ratio in rest_over_sql(report.results).items():
        if case == "list":
            target = f"≥ {LIST_TARGET:.2f} (goal {LIST_GOAL:.2f})  {_verdict(ratio >= LIST_TARGET)}"
        else:
            target = "-"
        lines.append(f"{case:<10}{ratio:>9.2f}   {target}")
    return lines


def export_table(exports: list[ExportResult], cpus: int) -> list[str]:
    roles = ("client", "rest", "core", "postgres")
    lines = [
        "Exports of every row, one at a time, read to the end by the client"
        " (CPU ms per 100k rows):",
        f"{'format':<8}{'path':<6}{'runs':>5}{'MB':>7}{'median s':>10}{'rows/s':>10}{'MB/s':>7}"
        f"{'vs SQL':>8}" + "".join(f"{r:>9}" for r in roles) + f"{'busy':>6}{'others':>8}",
    ]
    sql_rate = {e.format: e.rows_per_s for e in exports if e.path == "SQL"}
    for e in exports:
        per = e.cpu_ms_per_100k_rows()
        busy = sum(e.cpu.values()) / (e.seconds * cpus)
        lines.append(
            f"{e.format:<8}{e.path:<6}{len(e.times):>5}{e.size / 1e6:>7.1f}"
            f"{statistics.median(e.times):>10.3f}{e.rows_per_s:>10,.0f}{e.mb_per_s:>7.1f}"
            f"{e.rows_per_s / sql_rate[e.format]:>8.2f}"
            + "".join(f"{per.get(role, 0.0):>9.0f}" for role in roles)
            + f"{busy:>6.0%}{e.others / (e.seconds * cpus):>8.0%}"
        )
    for e in exports:
        if e.path == "REST":
            lines.append(
                f"{e.format} export via REST: {e.rows_per_s:,.0f} rows/s, target"
                f" ≥ {EXPORT_TARGET:,} rows/s: {_verdict(e.rows_per_s >= EXPORT_TARGET)}"
            )
    return lines


def render(report: Report, config: Config, cpus: int) -> str:
    lines: list[str] = []
    if report.results:
        lines += throughput_table(report.results)
        lines += ["", *ratio_lines(report), ""]
        lines += [*cpu_table(report.results, cpus), ""]
    if report.exports:
        lines += [*export_table(report.exports, cpus), ""]
    cases = [f"{case}: {describe(case)}" for case in config.cases]
    if "cursor" in config.cases:
        cases[config.cases.index("cursor")] += f" (pages 2-{config.cursor_pages + 1} at random)"
    lines.append(
        f"{config.rows:,} rows; concurrency {config.concurrency}, DB pools {config.pool_size},"
        f" {config.duration:g}s per case" + "".join(f"; {case}" for case in cases) + "."
    )
    lines += [NOTE.format(cpus=cpus), *noise_warning(report.measured(), cpus)]
    return "\n".join(lines)


def describe(case: str) -> str:
    """The query string of a case, readable."""
    if case == "aggregate":
        return unquote(rest_aggregate_path().split("?", 1)[1])
    return unquote(rest_path(rest_list_args(offset_paging=case == "list")).split("?", 1)[1])


def as_json(report: Report, config: Config, cpus: int) -> str:
    return report_json(
        config,
        cpus,
        queries={case: describe(case) for case in CASES},
        results=[r.summary() for r in report.results],
        ratios={case: round(v, 3) for case, v in rest_over_sql(report.results).items()},
        targets={
            "list_rest_over_sql": LIST_TARGET,
            "list_goal": LIST_GOAL,
            "export_rows_per_s": EXPORT_TARGET,
        },
        exports=[e.summary() for e in report.exports],
        max_cpu_share_of_other_processes=round(others_share(report.measured(), cpus), 3),
    )


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv), bench, render, as_json)


if __name__ == "__main__":
    main()
