"""Core as a real process: first boot, restarts, and several processes sharing one database."""

from __future__ import annotations

import os
import signal
import stat
import time

import pytest
from plinth import Client, PlinthError
from plinth.v1 import schema_service_pb2 as spb

from launcher.processes import free_port, spawn_process, wait_for_core
from tests.conftest import Stack, stack_env


def eventually(check, timeout: float = 10.0):
    """Retry `check` until it stops raising (schema changes travel by NOTIFY)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, PlinthError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_second_core_sees_schema_changes(stack: Stack, name: str) -> None:
    other_addr = f"127.0.0.1:{free_port()}"
    other = stack.start_core("core-2", addr=other_addr)
    try:
        with (
            Client(stack.core_addr, api_key=stack.admin_key) as first,
            Client(other_addr, api_key=stack.admin_key) as second,
        ):
            # The second process has the space cached before the change...
            with pytest.raises(PlinthError) as caught:
                second.list(name)
            assert caught.value.code == "NOT_FOUND"
            first.create_collection(name, [{"name": "title", "type": "string"}])
            created = second.create(name, {"title": "seen"})
            assert first.get(name, created["id"])["title"] == "seen"
            # ...and follows a field added and a field dropped through the first one.
            field = spb.Field(name="pages", type="integer")
            first.call(first.schema.AddField, spb.AddFieldRequest(collection=name, field=field))
            eventually(lambda: second.create(name, {"title": "b", "pages": 3}))
            assert sorted(r["title"] for r in second.list(name)) == ["b", "seen"]
            first.call(
                first.schema.DeleteField, spb.DeleteFieldRequest(collection=name, name="pages")
            )
            eventually(lambda: "pages" not in second.list(name, limit=1)[0])
    finally:
        other.stop()


def test_restart_keeps_data(stack: Stack, name: str) -> None:
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        client.create_collection(name, [{"name": "title", "type": "string"}])
        kept = client.create(name, {"title": "survives"})
    stack.processes["core"].stop(signal.SIGKILL)
    stack.start_core()
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        assert eventually(lambda: client.get(name, kept["id"]))["title"] == "survives"


@pytest.mark.skipif(
    "PLINTH_DATABASE_URL" in os.environ,
    reason="first boot needs the embedded database; PLINTH_DATABASE_URL points elsewhere",
)
def test_first_boot_generates_and_saves_admin_key(tmp_path) -> None:
    addr = f"127.0.0.1:{free_port()}"
    env = stack_env(tmp_path, PLINTH_CORE_ADDR=addr)
    key_file = tmp_path / "admin.key"

    first = spawn_process("first-boot", "core", env, tmp_path)
    try:
        wait_for_core(addr, first)
        key = key_file.read_text().strip()
        assert key.startswith("plk_") and key in first.output()  # printed once
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        with Client(addr, api_key=key) as client:
            assert client.call(client.schema.ListCollections, spb.ListCollectionsRequest()).space_id
    finally:
        first.stop()

    second = spawn_process("second-boot", "core", env, tmp_path)
    try:
        wait_for_core(addr, second)
        assert key_file.read_text().strip() == key
        assert "admin API key" not in second.output()
        with Client(addr, api_key=key) as client:
            assert client.call(client.schema.ListCollections, spb.ListCollectionsRequest()).space_id
    finally:
        second.stop()
