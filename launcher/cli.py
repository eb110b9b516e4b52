"""The `plinth` command: run core and the gateways together or one at a time."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from plinth import PlinthError
from plinth.formats import FORMATS, IMPORT_MODES

from launcher import serve, transfer
from launcher.processes import NotReady, spawn_process, wait_for_core
from launcher.settings import core_config, gateway_config


def up() -> int:
    """Core and both gateways as child processes; Ctrl-C or SIGTERM stops them all."""
    core = core_config()
    rest, graphql = gateway_config("rest"), gateway_config("graphql")
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    core_process = spawn_process("core", "core")
    try:
        wait_for_core(core.addr, core_process)
    except NotReady:
        if not stopping:
            print("plinth: core did not start; see the messages above", file=sys.stderr)
        core_process.stop()
        return 1
    children = [
        core_process,
        spawn_process("rest", "rest"),
        spawn_process("graphql", "graphql"),
    ]
    key_source = "PLINTH_ADMIN_KEY" if core.admin_key else str(core.data_dir / "admin.key")
    print(
        "\nPlinth is running:\n"
        f"  REST     http://{rest.addr}/api/v1\n"
        f"  GraphQL  http://{graphql.addr}/graphql\n"
        f"  gRPC     {core.addr}\n"
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
    importing.add_argument("--format", choices=FORMATS, default=None)
    importing.add_argument("--mode", choices=IMPORT_MODES, default="all_or_nothing")
    exporting = commands.add_parser("export", help="write a collection to stdout")
    exporting.add_argument("collection")
    exporting.add_argument("--format", choices=FORMATS, default="ndjson")
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up())
    if args.command in ("import", "export"):
        try:
            if args.command == "import":
                sys.exit(transfer.run_import(args.file, args.collection, args.format, args.mode))
            sys.exit(transfer.run_export(args.collection, args.format))
        except PlinthError as exc:
            print(f"plinth: {exc}", file=sys.stderr)
            sys.exit(1)
    serve.serve(args.command)
