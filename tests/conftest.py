"""The real stack for tests: core and both gateways as subprocesses on free loopback
ports, over the embedded PostgreSQL in a temporary data directory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from pgserver.utils import PostmasterInfo
from plinth import Client

from core.auth.keys import generate_key, hash_key
from core.auth.secret import load_secret, subkey
from core.spaces import create_space
from launcher.processes import Process, free_port, spawn_process, wait_for_core, wait_for_http
from tests.query_data import create_dataset

ADMIN_KEY = "plk_" + "test" * 10
INTERNAL_MARK = "internal error (request id"


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    core_addr: str = ""
    metrics_url: str = ""  # core's /metrics
    rest_url: str = ""
    graphql_url: str = ""
    admin_key: str = ADMIN_KEY
    processes: dict[str, Process] = field(default_factory=dict)

    def start_core(self, name: str = "core", addr: str | None = None, **env: str) -> Process:
        """Start a core process (another one on its own port if `addr` is given)."""
        addr = addr or self.core_addr
        process = spawn_process(
            name, "core", {**self.env, "PLINTH_CORE_ADDR": addr, **env}, self.data_dir
        )
        self.processes[name] = process
        wait_for_core(addr, process)
        return process

    def start_gateways(self) -> None:
        for name, url in (
            ("rest", self.rest_url),
            ("graphql", self.graphql_url),
        ):
            process = spawn_process(name, name, self.env, self.data_dir)
            self.processes[name] = process
            wait_for_http(f"{url}/healthz", process)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def database_url(self) -> str:
        """The database core uses: the given one, or the running embedded one."""
        if "PLINTH_DATABASE_URL" in self.env:
            return self.env["PLINTH_DATABASE_URL"]
        info = PostmasterInfo.read_from_pgdata(self.data_dir / "pg")
        assert info is not None and info.is_running()
        return info.get_uri()

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def pepper(self) -> bytes:
        """The key-hashing secret core derives from its data dir's secret."""
        return subkey(load_secret(self.data_dir, None), "api-key")

    def other_space_key(self) -> str:
        """An admin key of a new project's space: the same names there are other things."""
        key = generate_key()
        asyncio.run(_new_project_space(self.database_url(), hash_key(key, self.pepper())))
        return key


async def _new_project_space(database_url: str, key_hash: bytes) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "INSERT INTO plinth.projects (name) VALUES (%s) RETURNING id",
            [f"p_{uuid.uuid4().hex[:8]}"],
        )
        (project,) = await cur.fetchone()
        space = await create_space(conn, project, "dev")
        await conn.execute(
            "INSERT INTO plinth.api_keys (project_id, space_id, name, role, key_hash)"
            " VALUES (%s, %s, 'test', 'admin', %s)",
            [project, space, key_hash],
        )


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


@pytest.fixture(scope="session", autouse=True)
def no_leftover_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Stop every embedded Postgres this session started. pgserver stops its server when
    the last core using it exits, but a core killed with SIGKILL (as several tests do)
    never says so, and its server would outlive the session."""
    yield
    for pid_file in tmp_path_factory.getbasetemp().rglob("postmaster.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)  # fast shutdown


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("plinth")
    core_addr = f"127.0.0.1:{free_port()}"
    rest_addr = f"127.0.0.1:{free_port()}"
    graphql_addr = f"127.0.0.1:{free_port()}"
    metrics_addr = f"127.0.0.1:{free_port()}"
    env = stack_env(
        data_dir,
        PLINTH_ADMIN_KEY=ADMIN_KEY,
        PLINTH_CORE_ADDR=core_addr,
        PLINTH_REST_ADDR=rest_addr,
        PLINTH_GRAPHQL_ADDR=graphql_addr,
        PLINTH_CORE_METRICS_ADDR=metrics_addr,
    )
    stack = Stack(
        data_dir,
        env,
        core_addr=core_addr,
        metrics_url=f"http://{metrics_addr}/metrics",
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
def gql(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the GraphQL gateway with the admin key. The long timeout covers
    a schema rebuild late in a session, when the space holds many collections."""
    with httpx.Client(base_url=stack.graphql_url, headers=stack.headers(), timeout=120) as client:
        yield client


@pytest.fixture
def grpc_client(stack: Stack) -> Iterator[Client]:
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        yield client


@pytest.fixture
def name() -> str:
    """A fresh collection name, so tests never share data."""
    return "c_" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def query_dataset(stack: Stack) -> tuple[str, list[dict]]:
    """One collection of random rows shared by the query property tests."""
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        return create_dataset(client)
