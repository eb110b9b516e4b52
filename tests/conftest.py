"""The real stack for tests: core and both gateways as subprocesses on free loopback
ports, over the embedded PostgreSQL in a temporary data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from plinth import Client

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "plk_" + "test" * 10
START_TIMEOUT = 90.0
INTERNAL_MARK = "internal error (request id"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def spawn(name: str, module: str, env: dict[str, str], log_dir: Path) -> Process:
    log = log_dir / f"{name}.log"
    handle = log.open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    return Process(name, popen, log)


def wait_for_core(addr: str, process: Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited:\n{process.output()}")
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not become ready:\n{process.output()}")


def wait_for_http(url: str, process: Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.output()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not become ready:\n{process.output()}")


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    core_addr: str = ""
    rest_url: str = ""
    graphql_url: str = ""
    admin_key: str = ADMIN_KEY
    processes: dict[str, Process] = field(default_factory=dict)

    def start_core(self, name: str = "core", addr: str | None = None, **env: str) -> Process:
        """Start a core process (another one on its own port if `addr` is given)."""
        addr = addr or self.core_addr
        process = spawn(name, "core", {**self.env, "PLINTH_CORE_ADDR": addr, **env}, self.data_dir)
        self.processes[name] = process
        wait_for_core(addr, process)
        return process

    def start_gateways(self) -> None:
        for name, module, url in (
            ("rest", "gateways.rest", self.rest_url),
            ("graphql", "gateways.graphql", self.graphql_url),
        ):
            process = spawn(name, module, self.env, self.data_dir)
            self.processes[name] = process
            wait_for_http(f"{url}/healthz", process)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLINTH_")}
    env.update(
        PLINTH_DATA_DIR=str(data_dir),
        PLINTH_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    if "PLINTH_DATABASE_URL" in os.environ:
        env["PLINTH_DATABASE_URL"] = os.environ["PLINTH_DATABASE_URL"]
    return env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("plinth")
    core_addr = f"127.0.0.1:{free_port()}"
    rest_addr = f"127.0.0.1:{free_port()}"
    graphql_addr = f"127.0.0.1:{free_port()}"
    env = stack_env(
        data_dir,
        PLINTH_ADMIN_KEY=ADMIN_KEY,
        PLINTH_CORE_ADDR=core_addr,
        PLINTH_REST_ADDR=rest_addr,
        PLINTH_GRAPHQL_ADDR=graphql_addr,
    )
    stack = Stack(
        data_dir,
        env,
        core_addr=core_addr,
        rest_url=f"http://{rest_addr}",
        graphql_url=f"http://{graphql_addr}",
    )
    try:
        stack.start_core()
        stack.start_gateways()
        yield stack
    finally:
        stack.stop()
    # Any INTERNAL answer during the session is a bug, whatever the test saw.
    for process in stack.processes.values():
        assert INTERNAL_MARK not in process.output(), f"{process.name} logged an internal error"


@pytest.fixture
def rest(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the REST gateway with the admin key."""
    with httpx.Client(base_url=stack.rest_url, headers=stack.headers(), timeout=30) as client:
        yield client


@pytest.fixture
def grpc_client(stack: Stack) -> Iterator[Client]:
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        yield client


@pytest.fixture
def name() -> str:
    """A fresh collection name, so tests never share data."""
    return "c_" + uuid.uuid4().hex[:12]
