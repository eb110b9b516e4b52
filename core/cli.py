"""The `plinth` command: run core and the gateways together or one at a time."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core.config import Settings

PROCESSES = {"core": "core", "rest": "gateways.rest", "graphql": "gateways.graphql"}
READY_TIMEOUT = 120.0


def _run_module(module: str) -> None:
    importlib.import_module(f"{module}.__main__").main()


def _wait_for_core(addr: str, children: list[subprocess.Popen]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                return False
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.25)
    return False


def _stop(children: list[subprocess.Popen], grace: float = 10.0) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def up() -> int:
    """Core and both gateways as child processes; Ctrl-C or SIGTERM stops them all."""
    settings = Settings.from_env()
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children = [subprocess.Popen([sys.executable, "-m", PROCESSES["core"]])]
    if not _wait_for_core(settings.core_addr, children):
        if not stopping:
            print("plinth: core did not start; see the messages above", file=sys.stderr)
        _stop(children)
        return 1
    children += [
        subprocess.Popen([sys.executable, "-m", m]) for m in PROCESSES.values() if m != "core"
    ]
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
        if any(child.poll() is not None for child in children):
            print("plinth: a process exited; stopping the others", file=sys.stderr)
            _stop(children)
            return 1
        time.sleep(0.5)
    _stop(children)
    return 0


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
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up())
    _run_module(PROCESSES[args.command])
