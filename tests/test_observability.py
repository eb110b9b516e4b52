"""Prometheus metrics on every process, JSON logs that carry the request id from the
gateway into core, and readiness that follows the database."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pgserver.utils import PostmasterInfo

from launcher.processes import free_port, spawn_process, wait_for_http
from tests.conftest import Stack, stack_env


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in a Prometheus text page (None when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    return None


def test_the_rest_gateway_counts_requests_by_route_and_code(
    stack: Stack, rest: httpx.Client, name: str
) -> None:
    rest.post("/api/v1/schema/collections", json={"name": name}).raise_for_status()
    assert rest.get(f"/api/v1/{name}/nope").status_code == 404
    page = httpx.get(f"{stack.rest_url}/metrics").text
    not_found = [
        line
        for line in page.splitlines()
        if line.startswith("plinth_http_requests_total") and 'code="404"' in line
    ]
    # The route label is the route's pattern, never the id itself.
    assert any("<" in line for line in not_found), not_found
    assert "nope" not in page
    assert sample(page, "plinth_http_request_seconds_count") is not None


def test_the_graphql_gateway_serves_metrics(stack: Stack, gql: httpx.Client) -> None:
    gql.post("/graphql", json={"query": "{ __typename }"}).raise_for_status()
    page = httpx.get(f"{stack.graphql_url}/metrics").text
    assert sample(page, "plinth_http_requests_total", method="POST", code="200") >= 1


def test_core_counts_calls_pool_queue_and_caches(stack: Stack, rest: httpx.Client) -> None:
    topic = f"obs-{os.getpid()}-{time.monotonic_ns()}"
    rest.post(f"/api/v1/queue/{topic}", json={"payload": {"n": 1}}).raise_for_status()
    rest.post(f"/api/v1/queue/{topic}", json={"payload": {"n": 2}}).raise_for_status()
    (job,) = rest.post(f"/api/v1/queue/{topic}/lease", json={"max_jobs": 1}).json()["data"]
    ack = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": job["lease_id"]})
    ack.raise_for_status()
    assert rest.get("/api/v1/kv/obs-missing").status_code == 404
    page = httpx.get(stack.metrics_url).text
    assert sample(page, "plinth_grpc_calls_total", method="Enqueue", code="OK") >= 2
    assert sample(page, "plinth_grpc_calls_total", method="GetKeys", code="OK") >= 1
    assert sample(page, "plinth_grpc_call_seconds_count", method="Ack") >= 1
    assert sample(page, "plinth_queue_job_outcomes_total", topic=topic, outcome="done") == 1
    assert sample(page, "plinth_db_pool_connections", pool="main", state="idle") is not None
    assert sample(page, "plinth_cache_lookups_total", cache="schema", result="hit") >= 1
    # Depth is counted every few seconds: one job still waits, one is done.
    deadline = time.monotonic() + 30
    while sample(page, "plinth_queue_jobs", topic=topic, status="queued") != 1:
        assert time.monotonic() < deadline, "queue depth never counted"
        time.sleep(1)
        page = httpx.get(stack.metrics_url).text


def test_json_logs_carry_the_request_id_from_gateway_into_core(stack: Stack) -> None:
    core_addr, rest_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {"PLINTH_LOG_FORMAT": "json", "PLINTH_LOG_LEVEL": "DEBUG"}
    core = stack.start_core("core-json", addr=core_addr, **env)
    rest = spawn_process(
        "rest-json",
        "rest",
        {**stack.env, **env, "PLINTH_CORE_ADDR": core_addr, "PLINTH_REST_ADDR": rest_addr},
        stack.data_dir,
    )
    try:
        wait_for_http(f"http://{rest_addr}/healthz", rest)
        answer = httpx.get(
            f"http://{rest_addr}/api/v1/schema/collections",
            headers={**stack.headers(), "X-Request-Id": "trace-me-42"},
        )
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "trace-me-42"
        time.sleep(0.5)
        for process in (rest, core):
            lines = [
                json.loads(line) for line in process.output().splitlines() if line.startswith("{")
            ]
            assert lines, process.output()[-2000:]
            assert {"ts", "level", "process", "logger", "message"} <= set(lines[0])
            traced = [line for line in lines if line["request_id"] == "trace-me-42"]
            assert traced, f"{process.name} logged nothing for the request"
    finally:
        rest.stop()
        core.stop()


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A core and REST gateway on an embedded Postgres of their own (which the test stops)."""
    if "PLINTH_DATABASE_URL" in os.environ:
        pytest.skip("stops the embedded Postgres; PLINTH_DATABASE_URL names an outside one")
    core_addr, rest_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = stack_env(
        tmp_path,
        PLINTH_CORE_ADDR=core_addr,
        PLINTH_REST_ADDR=rest_addr,
        PLINTH_ADMIN_KEY="plk_" + "ready" * 8,
    )
    stack = Stack(tmp_path, env, core_addr=core_addr, rest_url=f"http://{rest_addr}")
    try:
        stack.start_core()
        process = spawn_process("rest", "rest", env, tmp_path)
        stack.processes["rest"] = process
        wait_for_http(f"{stack.rest_url}/healthz", process)
        yield stack.rest_url, tmp_path / "pg"
    finally:
        stack.stop()


def test_readiness_follows_the_database(own_database: tuple[str, Path]) -> None:
    import pgserver

    url, pgdata = own_database
    assert httpx.get(f"{url}/readyz").status_code == 200
    info = PostmasterInfo.read_from_pgdata(pgdata)
    os.kill(info.pid, signal.SIGINT)  # fast shutdown: the database is gone
    deadline = time.monotonic() + 30
    while (answer := httpx.get(f"{url}/readyz", timeout=10)).status_code != 503:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)
    assert answer.json()["error"]["code"] == "UNAVAILABLE"
    assert httpx.get(f"{url}/healthz").status_code == 200  # the process itself is up
    while (info := PostmasterInfo.read_from_pgdata(pgdata)) is not None and info.is_running():
        time.sleep(0.2)  # until the old server has gone
    pgserver.get_server(pgdata, cleanup_mode=None)  # the database returns
    deadline = time.monotonic() + 60
    while (answer := httpx.get(f"{url}/readyz", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)
