"""The command line the benchmarks share: the options that drive the load, the Config built
from them, and a run on a fresh stack with its report printed."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bench.load import LoadConfig, progress, run_async
from bench.stack import Stack, running_stack

C = TypeVar("C", bound=LoadConfig)
R = TypeVar("R")


def add_load_options(parser: argparse.ArgumentParser, *, concurrency: int, per: str) -> None:
    """--concurrency, --duration, --warmup, --max-requests and --pool-size; `per` is what
    one measurement is of (a case, a path)."""
    parser.add_argument("--concurrency", type=int, default=concurrency, help="in-flight requests")
    parser.add_argument("--duration", type=float, default=8.0, help=f"seconds measured per {per}")
    parser.add_argument("--warmup", type=float, default=1.5, help=f"unmeasured seconds per {per}")
    parser.add_argument("--max-requests", type=int, default=200_000, help=f"cap per {per}")
    parser.add_argument(
        "--pool-size", type=int, help="DB connections of core and of the SQL path (concurrency)"
    )


def config_from(cls: type[C], args: argparse.Namespace, **values: Any) -> C:
    """The script's Config: each field from the option of its name unless `values` gives it;
    a negative warm-up counts as none, and the DB pools are as large as the concurrency
    unless --pool-size says otherwise."""
    options = {field.name: getattr(args, field.name) for field in dataclasses.fields(cls)}
    options.update(warmup=max(args.warmup, 0.0), pool_size=args.pool_size or args.concurrency)
    return cls(**options | values)


def pooled_stack(pool_size: int, **settings: str) -> contextlib.AbstractContextManager[Stack]:
    """Core and the REST gateway, core's DB pool as large as the SQL path's."""
    progress("starting core and the REST gateway (embedded PostgreSQL, temporary data dir)")
    pool = str(pool_size)
    return running_stack(PLINTH_DB_POOL_MIN=pool, PLINTH_DB_POOL_MAX=pool, **settings)


def run(
    config: C,
    bench: Callable[[Stack, C], Coroutine[Any, Any, R]],
    render: Callable[[R, C, int], str],
    as_json: Callable[[R, C, int], str],
    **settings: str,
) -> None:
    """Measure with `bench` on a fresh stack (extra PLINTH_* `settings` for the servers) and
    print its report. Ctrl-C ends the run with status 130, as a shell expects."""
    cpus = os.cpu_count() or 1
    try:
        with pooled_stack(config.pool_size, **settings) as stack:
            report = run_async(bench(stack, config))
    except KeyboardInterrupt:
        sys.exit(130)
    print(as_json(report, config, cpus) if config.json else render(report, config, cpus))
