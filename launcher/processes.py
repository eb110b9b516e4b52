"""Starting Plinth processes and waiting for them: used by `plinth up`, the tests and bench."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path | None = None  # None: the output goes to our own terminal

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> None:
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def spawn(
    name: str,
    module: str,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    *,
    args: tuple[str, ...] = (),
    new_session: bool = False,
) -> Process:
    """`python -m module args…`, logging to log_dir/name.log (or to our terminal)."""
    log = log_dir / f"{name}.log" if log_dir else None
    with open(log, "ab") if log else contextlib.nullcontext() as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=new_session,
        )
    return Process(name, popen, log)


def spawn_process(
    name: str,
    process: str,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    *,
    new_session: bool = False,
) -> Process:
    """One Plinth process: `core`, `rest` or `graphql` (launcher/serve.py)."""
    return spawn(name, "launcher.serve", env, log_dir, args=(process,), new_session=new_session)


class NotReady(RuntimeError):
    pass


def _wait(ready, process: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise NotReady(f"{process.name} exited:\n{process.output()[-4000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise NotReady(f"{process.name} did not become ready:\n{process.output()[-4000:]}")


def wait_for_core(addr: str, process: Process, timeout: float = START_TIMEOUT) -> None:
    """Until core's health check says SERVING (it includes the database)."""
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False
            return answer.status == health_pb2.HealthCheckResponse.SERVING

        _wait(serving, process, timeout)


def wait_for_http(url: str, process: Process, timeout: float = START_TIMEOUT) -> None:
    """Until GET url answers 200."""

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(answers, process, timeout)
