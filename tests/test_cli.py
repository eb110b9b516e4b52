"""The `plinth` command as a user runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from launcher.processes import ROOT, Process, free_port, wait_for_http
from tests.conftest import ADMIN_KEY, stack_env

PLINTH = [sys.executable, "-c", "from launcher.cli import main; main()"]


def test_help_lists_the_commands() -> None:
    result = subprocess.run([*PLINTH, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0
    for command in ("up", "core", "rest", "graphql"):
        assert command in result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_everything_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    addrs = {name: f"127.0.0.1:{free_port()}" for name in ("CORE", "REST", "GRAPHQL")}
    env = stack_env(
        tmp_path,
        PLINTH_ADMIN_KEY=ADMIN_KEY,
        **{f"PLINTH_{name}_ADDR": addr for name, addr in addrs.items()},
    )
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([*PLINTH, "up"], cwd=ROOT, env=env, stdout=out, stderr=out)
    up = Process("plinth-up", popen, log)
    try:
        wait_for_http(f"http://{addrs['REST']}/readyz", up)
        wait_for_http(f"http://{addrs['GRAPHQL']}/healthz", up)
        children = psutil.Process(popen.pid).children(recursive=True)
        assert len(children) >= 3
        listed = httpx.get(
            f"http://{addrs['REST']}/api/v1/schema/collections",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert listed.status_code == 200
        assert f"REST     http://{addrs['REST']}/api/v1" in up.output()

        popen.send_signal(stop_signal)
        assert popen.wait(30) == 0, up.output()
        assert not any(child.is_running() and child.status() != "zombie" for child in children)
    finally:
        up.stop(signal.SIGKILL)
    assert "Traceback" not in up.output()


def test_up_exits_when_core_cannot_start(stack) -> None:
    """A core that cannot start makes `plinth up` say so and exit non-zero, not hang."""
    env = {**stack.env, "PLINTH_ADMIN_KEY": "not-a-plinth-key"}
    env["PLINTH_CORE_ADDR"] = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [*PLINTH, "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "PLINTH_ADMIN_KEY must start with 'plk_'" in result.stderr, result.stderr
    assert "core did not start" in result.stderr
