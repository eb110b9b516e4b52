"""Relation deep reads: a page of posts with each post's author and its tags' names, through
the REST gateway and the same answer from hand-written SQL through psycopg, in one run.
Prints req/s, latency, the ratio REST/SQL next to the target, and CPU per request of each
process.

    .venv/bin/python -m bench.relations [--authors 10000] [--posts 100000] [--tags 1000]
                                        [--concurrency 16] [--duration 8] [--explain] [--json]

The data goes in through the REST API: authors and tags in batch creates with ids given,
then posts in batch creates of 1000, each post with an author and three tags (100,000 posts
make 300,000 links). The load generator is one asyncio process on the same machine as the
servers, so each path shares the CPUs with it.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from itertools import islice

import orjson
import psycopg
from psycopg import sql

from bench.cli import add_load_options, config_from, run
from bench.load import (
    NOTE,
    RestPool,
    Result,
    check_connections,
    cpu_table,
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
from core.query import compile, plan
from core.schema.cache import load_space

AUTHORS, TAGS, POSTS = "bench_authors", "bench_tags", "bench_posts"
SCHEMAS = (
    {
        "name": AUTHORS,
        "fields": [{"name": "name", "type": "string"}, {"name": "email", "type": "string"}],
    },
    {"name": TAGS, "fields": [{"name": "name", "type": "string"}]},
    {
        "name": POSTS,
        "fields": [
            {"name": "title", "type": "string"},
            {"name": "body", "type": "text"},
            {"name": "author", "type": "relation", "target": AUTHORS, "cardinality": "many_to_one"},
            {"name": "tags", "type": "relation", "target": TAGS, "cardinality": "many_to_many"},
        ],
    },
)
BATCH = 1000  # the most items one batch create takes
FIELDS = "*,author.*,tags.name"
LIMIT = 20
REST_PATH = f"/api/v1/{POSTS}?fields={FIELDS}&limit={LIMIT}"  # the default order: by id
# An offset page answers the total too (API.md's meta), so its SQL counts the posts as
# well; a cursor page answers no total, and neither does its SQL.
CASES = {"offset": REST_PATH, "cursor": REST_PATH + "&cursor="}
# From the issue: REST deep-read throughput against the hand-written SQL.
TARGET = 0.35
BODY = (
    "A post of the relations benchmark, long enough to look like a short article's"
    " opening paragraph and to give every row a body of realistic size to carry along."
)

# What a developer writes by hand for the same answer: the first live posts in id order
# (core's default; its ids are time-ordered), each as one object with its author's record
# and its tags (id and name, in link order), all in one JSON text; {total} adds the count.
DEEP_READ = """
SELECT coalesce(json_agg(json_build_object(
         'id', p.id, 'title', p.title, 'body', p.body,
         'author', CASE WHEN a.id IS NOT NULL THEN json_build_object(
             'id', a.id, 'name', a.name, 'email', a.email,
             'created_at', a.created_at, 'updated_at', a.updated_at) END,
         'tags', (SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name)
                                           ORDER BY l.position), '[]')
                  FROM {links} AS l JOIN {tags} AS g ON g.id = l.target_id
                  WHERE l.source_id = p.id AND g.deleted_at IS NULL),
         'created_at', p.created_at, 'updated_at', p.updated_at)
       ORDER BY p.id), '[]')::text{total}
FROM (SELECT * FROM {posts} WHERE deleted_at IS NULL ORDER BY id LIMIT %s) AS p
LEFT JOIN {authors} AS a ON a.id = p.author AND a.deleted_at IS NULL
"""
# Where the collections live: the space's schema and the tags field's junction table.
NAMES = """
SELECT s.schema_name, 'rel$' || (f.spec->>'key')
FROM plinth.spaces s
JOIN plinth.collections c ON c.space_id = s.id
JOIN plinth.fields f ON f.collection_id = c.id
WHERE s.id = %s AND c.name = %s AND f.name = 'tags'
"""


# --- configuration -----------------------------------------------------------


@dataclass(frozen=True)
class Config:
    authors: int
    tags: int
    posts: int
    tags_per_post: int
    concurrency: int
    duration: float
    warmup: float
    max_requests: int
    pool_size: int
    seed: int
    explain: bool
    json: bool


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors", type=int, default=10_000, help="authors loaded")
    parser.add_argument("--tags", type=int, default=1_000, help="tags loaded")
    parser.add_argument("--posts", type=int, default=100_000, help="posts loaded")
    parser.add_argument("--tags-per-post", type=int, default=3, help="links of each post")
    add_load_options(parser, concurrency=16, per="path")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data")
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if min(args.authors, args.tags, args.posts, args.concurrency) < 1 or args.duration <= 0:
        parser.error("--authors, --tags, --posts, --concurrency and --duration must be positive")
    if not 0 <= args.tags_per_post <= args.tags:
        parser.error("--tags-per-post must be between 0 and --tags")
    return config_from(Config, args)


# --- the data, through the REST API ------------------------------------------------------------


def author_id(n: int) -> str:
    return f"author-{n:06d}"


def tag_id(n: int) -> str:
    return f"tag-{n:05d}"


def authors(count: int) -> Iterator[dict]:
    for n in range(count):
        yield {"id": author_id(n), "name": f"Author {n}", "email": f"author{n}@example.com"}


def tags(count: int) -> Iterator[dict]:
    for n in range(count):
        yield {"id": tag_id(n), "name": f"tag {n}"}


def posts(config: Config) -> Iterator[dict]:
    """Deterministic: a random author and distinct random tags per post; core makes the ids."""
    rng = random.Random(config.seed)
    for n in range(config.posts):
        yield {
            "title": f"Post {n}",
            "body": f"{BODY} ({n})",
            "author": author_id(rng.randrange(config.authors)),
            "tags": [tag_id(t) for t in rng.sample(range(config.tags), config.tags_per_post)],
        }


async def create_all(rest: RestPool, collection: str, items: Iterator[dict], total: int) -> None:
    """Batch creates of BATCH items, one after the other (the first posts are the page)."""
    started, done = time.perf_counter(), 0
    while batch := list(islice(items, BATCH)):
        await rest.request("POST", f"/api/v1/{collection}/batch", orjson.dumps({"items": batch}))
        done += len(batch)
        if done == total or done % (10 * BATCH) == 0:
            progress(f"  {collection}: {done:,}/{total:,} in {time.perf_counter() - started:.1f}s")


async def load_data(rest: RestPool, config: Config) -> None:
    for schema in SCHEMAS:
        await rest.request("POST", "/api/v1/schema/collections", orjson.dumps(schema), 201)
    await create_all(rest, AUTHORS, authors(config.authors), config.authors)
    await create_all(rest, TAGS, tags(config.tags), config.tags)
    await create_all(rest, POSTS, posts(config), config.posts)


# --- the statements --------------------------------------------------------------------------


async def compose(stack: Stack, config: Config) -> dict[str, compile.Statement]:
    """The hand-written statement, for the schema and junction table core created; with
    --explain, its plan next to the plans of what core runs for the REST request."""
    async with await psycopg.AsyncConnection.connect(stack.database_url(), autocommit=True) as conn:
        await check_connections(conn, config.pool_size)
        space = await space_id(conn, stack.admin_key)
        cur = await conn.execute(NAMES, [space, POSTS])
        schema, links = await cur.fetchone()
        for table in (AUTHORS, TAGS, POSTS, links):
            await conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(schema, table)))
        posts = sql.Identifier(schema, POSTS)
        count = sql.SQL(", (SELECT count(*) FROM {} WHERE deleted_at IS NULL)").format(posts)
        statements = {}
        for case, total in zip(CASES, (count, sql.SQL("")), strict=True):
            text = sql.SQL(DEEP_READ).format(
                posts=posts,
                authors=sql.Identifier(schema, AUTHORS),
                tags=sql.Identifier(schema, TAGS),
                links=sql.Identifier(schema, links),
                total=total,
            )
            statements[case] = (text.as_string(conn), [LIMIT])
        if config.explain:
            await explain(conn, space, statements["cursor"])
        return statements


async def explain(
    conn: psycopg.AsyncConnection, space: str, hand_written: compile.Statement
) -> None:
    """Plans of the hand-written statement and of core's for the REST request (as ListRecords
    composes it: offset paging, so with the total; and without it, as cursor paging reads)."""
    loaded = await load_space(conn, space)
    collection = loaded.collections[POSTS]
    shown = {"hand-written": hand_written}
    for with_total in (True, False):
        page = compile.Page(
            node=None,
            sort=plan.plan_sort(collection, []),
            selection=plan.plan_fields(collection, FIELDS.split(",")),
            limit=plan.plan_limit(LIMIT),
            with_total=with_total,
        )
        name = "core, with the total" if with_total else "core, without the total"
        shown[name] = compile.select_page(loaded.schema_name, collection, page)
    await show_plans(conn, shown)


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeepRead:
    """The benchmark's one request, through either path."""

    statements: dict[str, compile.Statement]  # by case

    def caller(self, case: str, path: SqlPath | RestPool) -> Callable[[], Awaitable[object]]:
        if isinstance(path, SqlPath):
            return lambda: path.fetch(self.statements[case])
        return lambda: path.get(CASES[case])


async def check_answer(rest: RestPool, db: SqlPath, read: DeepRead, config: Config) -> None:
    for case, url in CASES.items():
        body = orjson.loads(await rest.get(url))
        records, *total = await db.fetch(read.statements[case])
        same_answer(f"deep read ({case})", body["data"], orjson.loads(records))
        if total:
            same_answer("total", [body["meta"]["total"], config.posts], [total[0], total[0]])
        linked = [len(post["tags"]) for post in body["data"]]
        same_answer("tags per post", linked, [config.tags_per_post] * len(linked))


async def bench(stack: Stack, config: Config) -> list[Result]:
    results = []
    rest = await RestPool.open(stack, config.concurrency)
    try:
        progress(
            f"loading {config.authors:,} authors, {config.tags:,} tags and {config.posts:,} posts"
            f" ({config.posts * config.tags_per_post:,} links) through REST batch creates"
        )
        started = time.perf_counter()
        await load_data(rest, config)
        progress(f"  loaded in {time.perf_counter() - started:.1f}s")
        read = DeepRead(await compose(stack, config))
        db = await SqlPath.open(stack, config.pool_size)
        try:
            progress("checking that REST and SQL answer alike")
            await check_answer(rest, db, read, config)
            for case in CASES:
                for name, path in (("SQL", db), ("REST", rest)):
                    progress(
                        f"{case} via {name:<4}: {config.warmup:g}s warm-up, {config.duration:g}s"
                    )
                    call = read.caller(case, path)
                    results.append(await measure_call(call, case, name, stack, config))
                    progress(f"{'':>14}{results[-1].rate:,.0f} req/s")
        finally:
            await db.close()
    finally:
        await rest.close()
    return results


# --- report ----------------------------------------------------------------------------------


def render(results: list[Result], config: Config, cpus: int) -> str:
    lines = [*throughput_table(results), ""]
    for case, ratio in rest_over_sql(results).items():
        verdict = "ok" if ratio >= TARGET else "BELOW TARGET"
        lines.append(f"{case:<12} REST/SQL {ratio:.2f}   target ≥ {TARGET:.2f}  {verdict}")
    lines.append("")
    lines += [*cpu_table(results, cpus), ""]
    lines.append(
        f"{config.authors:,} authors, {config.tags:,} tags, {config.posts:,} posts with"
        f" {config.tags_per_post} tags each; concurrency {config.concurrency}, DB pools"
        f" {config.pool_size}, {config.duration:g}s per path; REST GET {REST_PATH}"
        " (the cursor page adds &cursor=)."
    )
    lines += [NOTE.format(cpus=cpus), *noise_warning(results, cpus)]
    return "\n".join(lines)


def as_json(results: list[Result], config: Config, cpus: int) -> str:
    return report_json(
        config,
        cpus,
        requests=CASES,
        results=[r.summary() for r in results],
        ratio_rest_over_sql={k: round(v, 3) for k, v in rest_over_sql(results).items()},
        target=TARGET,
        max_cpu_share_of_other_processes=round(others_share(results, cpus), 3),
    )


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv), bench, render, as_json)


if __name__ == "__main__":
    main()
