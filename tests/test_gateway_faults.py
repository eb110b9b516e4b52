"""Gateways when core is unreachable: 503 UNAVAILABLE in each API's shape, no internals."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from launcher.processes import Process, free_port, spawn_process, wait_for_http
from tests.conftest import Stack


@pytest.fixture
def orphans(stack: Stack, tmp_path) -> Iterator[dict[str, str]]:
    """Both gateways, pointed at a port where no core listens."""
    nowhere = f"127.0.0.1:{free_port()}"
    urls, processes = {}, []
    for name in ("rest", "graphql"):
        addr = f"127.0.0.1:{free_port()}"
        env = {**stack.env, "PLINTH_CORE_ADDR": nowhere, f"PLINTH_{name.upper()}_ADDR": addr}
        process: Process = spawn_process(f"orphan-{name}", name, env, tmp_path)
        processes.append(process)
        urls[name] = f"http://{addr}"
        wait_for_http(f"{urls[name]}/healthz", process)
    yield urls
    for process in processes:
        process.stop()


def test_rest_answers_unavailable(orphans: dict[str, str], stack: Stack) -> None:
    ready = httpx.get(f"{orphans['rest']}/readyz")
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "UNAVAILABLE"
    listed = httpx.get(f"{orphans['rest']}/api/v1/items", headers=stack.headers(), timeout=60)
    assert listed.status_code == 503
    error = listed.json()["error"]
    assert error["code"] == "UNAVAILABLE" and "127.0.0.1" not in error["message"]


def test_graphql_answers_unavailable(orphans: dict[str, str], stack: Stack) -> None:
    answer = httpx.post(
        f"{orphans['graphql']}/graphql",
        json={"query": "{ __typename }"},
        headers=stack.headers(),
        timeout=60,
    )
    assert answer.status_code == 503
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAVAILABLE" and "127.0.0.1" not in error["message"]
    assert httpx.get(f"{orphans['graphql']}/readyz").status_code == 503
