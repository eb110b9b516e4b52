"""The `plinth` command: run core and the gateways together or one at a time."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time

from plinth import PlinthError

from core.config import Settings
from core.launch import NotReady, spawn, wait_for_core

PROCESSES = {"core": "core", "rest": "gateways.rest", "graphql": "gateways.graphql"}


def _run_module(module: str) -> None:
    importlib.import_module(f"{module}.__main__").main()


def up() -> int:
    """Core and both gateways as child processes; Ctrl-C or SIGTERM stops them all."""
    settings = Settings.from_env()
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    core = spawn("core", PROCESSES["core"])
    try:
        wait_for_core(settings.core_addr, core)
    except NotReady:
        if not stopping:
            print("plinth: core did not start; see the messages above", file=sys.stderr)
        core.stop()
        return 1
    children = [core, *(spawn(name, PROCESSES[name]) for name in ("rest", "graphql"))]
    key_source = (
        "PLINTH_ADMIN_KEY"
        if os.environ.get("PLINTH_ADMIN_KEY")
        else str(settings.data_dir / "admin.key")
    )
    print(
        "\nPlinth is running:\n"
        f"  REST     http://{settings.rest_addr}/api/v1\n"
        f"  GraphQL  http://{settings.graphql_addr}/graphql\n"
        f"  gRPC     {settings.core_addr}\n"
        f"  admin key: {key_source}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    while not stopping:
        if not all(child.alive() for child in children):
            print("plinth: a process exited; stopping the others", file=sys.stderr)
            break
        time.sleep(0.5)
    # Gateways first, core last: core's exit is what stops the embedded Postgres.
    for child in reversed(children):
        child.stop()
    return 0 if stopping else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="plinth",
        description="Plinth: declare collections, get a full API (REST, GraphQL, gRPC).",
        epilog="Settings come from PLINTH_* environment variables; see docs/configuration.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="run core, the REST gateway and the GraphQL gateway together")
    commands.add_parser("core", help="run the gRPC core (PLINTH_CORE_ADDR)")
    commands.add_parser("rest", help="run the REST gateway (PLINTH_REST_ADDR)")
    commands.add_parser("graphql", help="run the GraphQL gateway (PLINTH_GRAPHQL_ADDR)")
    importing = commands.add_parser("import", help="load a csv, json or ndjson file (COPY)")
    importing.add_argument("file")
    importing.add_argument("--collection", required=True)
    importing.add_argument("--format", choices=("csv", "json", "ndjson"), default=None)
    importing.add_argument(
        "--mode", choices=("all_or_nothing", "skip_invalid"), default="all_or_nothing"
    )
    exporting = commands.add_parser("export", help="write a collection to stdout")
    exporting.add_argument("collection")
    exporting.add_argument("--format", choices=("csv", "json", "ndjson"), default="ndjson")
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up())
    if args.command in ("import", "export"):
        from core import transfer  # the client side only: no server imports

        try:
            if args.command == "import":
                sys.exit(transfer.run_import(args.file, args.collection, args.format, args.mode))
            sys.exit(transfer.run_export(args.collection, args.format))
        except PlinthError as exc:
            print(f"plinth: {exc}", file=sys.stderr)
            sys.exit(1)
    _run_module(PROCESSES[args.command])
