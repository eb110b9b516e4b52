"""The real stack for benchmarks: core (+ REST gateway) as subprocesses on free loopback ports,
over the embedded PostgreSQL in a temporary data directory that is removed afterwards.

    with running_stack() as stack:
        stack.core_addr, stack.rest_url, stack.database_url(), stack.cpu_seconds()

Everything started here is stopped on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # a dependency of pgserver, so present wherever the embedded server is
from pgserver.utils import PostmasterInfo

from launcher.processes import (
    STOP_TIMEOUT,
    Process,
    free_port,
    spawn_process,
    wait_for_core,
    wait_for_http,
)


def machine_busy_seconds() -> float:
    """Non-idle CPU seconds of the whole machine so far: shows load from other processes."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _cpu(process: psutil.Process, *, with_reaped: bool = False) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    total = times.user + times.system
    if with_reaped:
        total += times.children_user + times.children_system
    return total


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    admin_key: str
    core_addr: str
    rest_url: str
    processes: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str) -> Process:
        # A session of its own: a terminal's Ctrl-C reaches only us, and we stop the
        # processes in order (gateway before core, core last so it stops Postgres).
        process = spawn_process(name, name, self.env, self.data_dir, new_session=True)
        self.processes[name] = process
        return process

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def postmaster(self) -> PostmasterInfo | None:
        return PostmasterInfo.read_from_pgdata(self.data_dir / "pg")

    def database_url(self) -> str:
        """The embedded server's URL, read from postmaster.pid.

        Read rather than pgserver.get_server(): a handle from this process would make
        pgserver leave Postgres running when core, the last real user, exits.
        """
        info = self.postmaster()
        if info is None or not info.is_running():
            raise RuntimeError("the embedded PostgreSQL is not running")
        return info.get_uri()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far (user + system) by this process and each server role.

        Postgres counts the postmaster, its live backends and the backends it reaped.
        """
        cpu = {"client": _cpu(psutil.Process())}
        for name, process in self.processes.items():
            cpu[name] = _cpu(psutil.Process(process.popen.pid))
        info = self.postmaster()
        if info is not None and info.process is not None:
            cpu["postgres"] = _cpu(info.process, with_reaped=True) + sum(
                _cpu(child) for child in info.process.children(recursive=True)
            )
        return cpu

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        self._stop_postgres()

    def _stop_postgres(self) -> None:
        """Core's pgserver handle stops Postgres on a clean exit; this covers the rest."""
        info = self.postmaster()
        if info is None or info.process is None or not info.is_running():
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            info.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                info.process.wait(STOP_TIMEOUT)
            except psutil.TimeoutExpired:
                info.process.kill()


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    # Our own settings only: a PLINTH_DATABASE_URL from the shell must not point the
    # benchmark (which creates tables) at a real database.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLINTH_")}
    env.update(PLINTH_DATA_DIR=str(data_dir), PLINTH_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM acts as Ctrl-C: inside asyncio.run that cancels the main task (a clean
    unwind) instead of raising KeyboardInterrupt in the middle of some callback."""
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):  # ignored, as in a background job of a script
        raise KeyboardInterrupt
    handler(signal.SIGINT, frame)


@contextlib.contextmanager
def running_stack(*, rest: bool = True, **settings: str) -> Iterator[Stack]:
    """Start core (and the REST gateway) in a fresh data dir; stop and delete it all on exit.

    Extra PLINTH_* settings for the servers are passed as keywords,
    e.g. PLINTH_DB_POOL_MAX="32".
    """
    data_dir = Path(tempfile.mkdtemp(prefix="plinth-bench-"))
    core_addr, rest_addr = (f"127.0.0.1:{free_port()}" for _ in range(2))
    admin_key = "plk_" + secrets.token_urlsafe(32)
    env = _env(
        data_dir,
        PLINTH_ADMIN_KEY=admin_key,
        PLINTH_CORE_ADDR=core_addr,
        PLINTH_REST_ADDR=rest_addr,
        **settings,
    )
    stack = Stack(data_dir, env, admin_key, core_addr, f"http://{rest_addr}")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        wait_for_core(core_addr, stack.start("core"))
        if rest:
            wait_for_http(f"{stack.rest_url}/healthz", stack.start("rest"))
        yield stack
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(data_dir, ignore_errors=True)
