"""The job queue end to end: REST, gRPC, the worker helper and real worker processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from plinth import AsyncClient, PlinthError
from plinth.v1 import queue_service_pb2 as pb
from plinth.worker import Job, Worker

from core.queue.purge import purge_done
from launcher.processes import free_port, spawn
from tests.conftest import Stack


@pytest.fixture
def topic() -> str:
    return "t_" + uuid.uuid4().hex[:12]


def run(coroutine):
    return asyncio.run(coroutine)


def client(stack: Stack, addr: str | None = None) -> AsyncClient:
    return AsyncClient(addr or stack.core_addr, api_key=stack.admin_key)


def wait_until(predicate, timeout: float = 30.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# --- REST ---------------------------------------------------------------------


def test_rest_enqueue_lease_ack(rest: httpx.Client, topic: str) -> None:
    created = rest.post(f"/api/v1/queue/{topic}", json={"payload": {"to": "a@b.c"}})
    assert created.status_code == 201, created.text
    job = created.json()["data"]
    assert {k: job[k] for k in ("topic", "status")} == {"topic": topic, "status": "queued"}
    assert rest.get(f"/api/v1/queue/jobs/{job['id']}").json()["data"]["payload"] == {"to": "a@b.c"}

    leased = rest.post(f"/api/v1/queue/{topic}/lease", json={"max_jobs": 10, "wait_ms": 0})
    assert leased.status_code == 200, leased.text
    [held] = leased.json()["data"]
    assert held["id"] == job["id"] and held["status"] == "leased" and held["attempts"] == 1
    assert held["lease_id"]

    stats = rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]
    assert stats["leased"] == 1 and stats["queued"] == 0

    acked = rest.post(
        f"/api/v1/queue/jobs/{job['id']}/ack",
        json={"lease_id": held["lease_id"], "result": {"sent": True}},
    )
    assert acked.status_code == 200, acked.text
    done = rest.get(f"/api/v1/queue/jobs/{job['id']}").json()["data"]
    assert done["status"] == "done" and done["result"] == {"sent": True}

    # An acked job is never delivered again, and cannot be acked twice.
    again = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": held["lease_id"]})
    assert again.status_code == 409 and error_code(again) == "CONFLICT"
    assert rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"] == []
    assert rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]["done"] == 1


def test_expired_lease_is_conflict_and_redelivered(rest: httpx.Client, topic: str) -> None:
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1}).json()["data"]
    [first] = rest.post(f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 200}).json()["data"]
    # Long poll: the job comes back when the lease expires.
    [second] = rest.post(
        f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 30000, "wait_ms": 10000}
    ).json()["data"]
    assert second["id"] == job["id"] and second["attempts"] == 2
    assert second["lease_id"] != first["lease_id"]
    late = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": first["lease_id"]})
    assert late.status_code == 409 and error_code(late) == "CONFLICT"
    nack = rest.post(f"/api/v1/queue/jobs/{job['id']}/nack", json={"lease_id": first["lease_id"]})
    assert nack.status_code == 409
    ok = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": second["lease_id"]})
    assert ok.status_code == 200


def test_expired_lease_alone_is_conflict_and_reads_as_failed(
    rest: httpx.Client, topic: str
) -> None:
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1}).json()["data"]
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 100}).json()["data"]
    time.sleep(0.3)
    late = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": held["lease_id"]})
    assert late.status_code == 409
    # No worker holds it any more: it is due again, not "leased".
    read = rest.get(f"/api/v1/queue/jobs/{job['id']}").json()["data"]
    assert read["status"] == "failed" and read["last_error"] == "the lease expired"
    assert read["lease_id"] is None and read["attempts"] == 1
    stats = rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]
    assert (stats["leased"], stats["failed"], stats["dead"]) == (0, 1, 0)
    [again] = rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"]
    assert again["status"] == "leased" and again["attempts"] == 2
    assert again["last_error"] == "the lease expired"
    stats = rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]
    assert (stats["leased"], stats["failed"]) == (1, 0)


def test_null_members_are_not_given(rest: httpx.Client, topic: str) -> None:
    """Generated clients send every optional member; null means the default."""
    body = {"payload": {"n": 1}, "delay_ms": None, "max_attempts": None}
    created = rest.post(f"/api/v1/queue/{topic}", json=body)
    assert created.status_code == 201, created.text
    job = created.json()["data"]
    assert job["max_attempts"] == 5 and job["status"] == "queued"
    lease = {"max_jobs": None, "visibility_ms": None, "wait_ms": None}
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json=lease).json()["data"]
    ack = {"lease_id": held["lease_id"], "result": None}
    assert (
        rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json=ack).json()["data"]["status"]
        == "done"
    )


def test_extend_keeps_a_lease_past_its_visibility(rest: httpx.Client, topic: str) -> None:
    jid = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1}).json()["data"]["id"]
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 300}).json()["data"]
    lease = held["lease_id"]
    extended = rest.post(
        f"/api/v1/queue/jobs/{jid}/extend", json={"lease_id": lease, "visibility_ms": 30000}
    )
    assert extended.status_code == 200, extended.text
    job = extended.json()["data"]
    assert job["status"] == "leased" and job["lease_id"] == lease and job["attempts"] == 1
    expires = dt.datetime.fromisoformat(job["lease_expires_at"])
    assert expires - dt.datetime.fromisoformat(held["lease_expires_at"]) > dt.timedelta(seconds=20)
    time.sleep(0.5)  # past the first visibility: still held, so not handed out again
    assert rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"] == []
    assert rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]["leased"] == 1
    ack = rest.post(f"/api/v1/queue/jobs/{jid}/ack", json={"lease_id": lease})
    assert ack.status_code == 200
    after_ack = rest.post(f"/api/v1/queue/jobs/{jid}/extend", json={"lease_id": lease})
    assert after_ack.status_code == 409 and error_code(after_ack) == "CONFLICT"


def test_extend_refusals_change_nothing(rest: httpx.Client, topic: str) -> None:
    jid = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1}).json()["data"]["id"]
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 200}).json()["data"]
    extend = f"/api/v1/queue/jobs/{jid}/extend"
    for body, status in [
        ({"lease_id": held["lease_id"], "visibility_ms": 5}, 400),
        ({"lease_id": held["lease_id"], "visibility_ms": "long"}, 400),
        ({"lease_id": held["lease_id"], "nope": 1}, 400),
        ({"lease_id": str(uuid.uuid4())}, 409),
        ({"lease_id": "garbage"}, 409),
    ]:
        assert rest.post(extend, json=body).status_code == status, body
    unknown = rest.post(f"/api/v1/queue/jobs/{uuid.uuid4()}/extend", json={"lease_id": "x"})
    assert unknown.status_code == 404
    read = rest.get(f"/api/v1/queue/jobs/{jid}").json()["data"]
    assert read["lease_expires_at"] == held["lease_expires_at"]
    time.sleep(0.3)  # expired: too late to extend
    late = rest.post(extend, json={"lease_id": held["lease_id"]})
    assert late.status_code == 409 and error_code(late) == "CONFLICT"


def test_delayed_job_waits(rest: httpx.Client, topic: str) -> None:
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1, "delay_ms": 400}).json()["data"]
    assert rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"] == []
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={"wait_ms": 10000}).json()["data"]
    assert held["id"] == job["id"]
    created = dt.datetime.fromisoformat(job["created_at"])
    assert dt.datetime.fromisoformat(job["run_at"]) - created >= dt.timedelta(milliseconds=400)


def test_nack_retries_with_backoff_then_dead_and_requeue(rest: httpx.Client, topic: str) -> None:
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1, "max_attempts": 3}).json()["data"]
    jid = job["id"]
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"]
    # Default backoff: 1 s ± 25 % after the first attempt.
    failed = rest.post(
        f"/api/v1/queue/jobs/{jid}/nack", json={"lease_id": held["lease_id"], "error": "smtp down"}
    ).json()["data"]
    assert failed["status"] == "failed" and failed["last_error"] == "smtp down"
    delay = dt.datetime.fromisoformat(failed["run_at"]) - dt.datetime.fromisoformat(
        failed["updated_at"]
    )
    assert dt.timedelta(milliseconds=740) <= delay <= dt.timedelta(milliseconds=1260)
    assert rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"] == []

    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={"wait_ms": 10000}).json()["data"]
    assert held["attempts"] == 2
    retry = rest.post(
        f"/api/v1/queue/jobs/{jid}/nack",
        json={"lease_id": held["lease_id"], "error": "again", "retry_in_ms": 100},
    ).json()["data"]
    assert retry["status"] == "failed"
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={"wait_ms": 10000}).json()["data"]
    assert held["attempts"] == 3
    dead = rest.post(
        f"/api/v1/queue/jobs/{jid}/nack", json={"lease_id": held["lease_id"], "error": "last"}
    ).json()["data"]
    assert dead["status"] == "dead"

    listed = rest.get(f"/api/v1/queue/{topic}/dead").json()
    assert [j["id"] for j in listed["data"]] == [jid]
    assert rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]["dead"] == 1

    requeued = rest.post(f"/api/v1/queue/jobs/{jid}/requeue")
    assert requeued.status_code == 200 and requeued.json()["data"]["status"] == "queued"
    assert rest.post(f"/api/v1/queue/jobs/{jid}/requeue").status_code == 409
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"]
    assert held["id"] == jid and held["attempts"] == 1


def test_nack_without_retry_is_dead(rest: httpx.Client, topic: str) -> None:
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": None}).json()["data"]
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"]
    dead = rest.post(
        f"/api/v1/queue/jobs/{job['id']}/nack",
        json={"lease_id": held["lease_id"], "error": "bad address", "retry": False},
    ).json()["data"]
    assert dead["status"] == "dead" and dead["attempts"] == 1


def test_expiring_last_attempt_is_dead(rest: httpx.Client, topic: str) -> None:
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1, "max_attempts": 1}).json()["data"]
    rest.post(f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 100})
    time.sleep(0.3)
    assert rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"] == []
    dead = rest.get(f"/api/v1/queue/jobs/{job['id']}").json()["data"]
    assert dead["status"] == "dead" and dead["last_error"] == "the lease expired"


def test_expired_last_attempt_reads_as_dead_before_any_lease(
    rest: httpx.Client, topic: str
) -> None:
    """With no worker left to lease the topic, the row still says leased; every read (the
    job, stats, the dead list) and re-queue treat it as the dead job it is."""
    jid = rest.post(f"/api/v1/queue/{topic}", json={"max_attempts": 1}).json()["data"]["id"]
    rest.post(f"/api/v1/queue/{topic}/lease", json={"visibility_ms": 100})
    time.sleep(0.3)
    assert rest.get(f"/api/v1/queue/jobs/{jid}").json()["data"]["status"] == "dead"
    stats = rest.get(f"/api/v1/queue/{topic}/stats").json()["data"]
    assert (stats["leased"], stats["failed"], stats["dead"]) == (0, 0, 1)
    assert [j["id"] for j in rest.get(f"/api/v1/queue/{topic}/dead").json()["data"]] == [jid]
    requeued = rest.post(f"/api/v1/queue/jobs/{jid}/requeue").json()["data"]
    assert requeued["status"] == "queued" and requeued["attempts"] == 0
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"]
    assert held["id"] == jid and held["attempts"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/v1/queue/bad topic!", {"payload": 1}, 400),
        ("post", "/api/v1/queue/jobs", {"payload": 1}, 400),
        ("post", "/api/v1/queue/_internal", {"payload": 1}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "delay_ms": -1}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "delay_ms": "soon"}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "delay_ms": 10**15}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "max_attempts": 1000}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "max_attempts": 10**40}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "delay_ms": -(10**40)}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "max_attempts": -2}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": "\u0000"}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": 1, "nope": 1}, 400),
        ("post", "/api/v1/queue/{topic}", {"payload": "x" * (1024 * 1024 + 1)}, 413),
        ("post", "/api/v1/queue/{topic}/lease", {"visibility_ms": 5}, 400),
        ("post", "/api/v1/queue/{topic}/lease", {"visibility_ms": 10**12}, 400),
        ("post", "/api/v1/queue/{topic}/lease", {"wait_ms": -1}, 400),
        ("post", "/api/v1/queue/{topic}/lease", {"wait_ms": 600000}, 400),
        ("post", "/api/v1/queue/{topic}/lease", {"max_jobs": 1000}, 400),
        ("get", "/api/v1/queue/jobs/not-a-job", None, 404),
        ("get", f"/api/v1/queue/jobs/{uuid.uuid4()}", None, 404),
        ("post", f"/api/v1/queue/jobs/{uuid.uuid4()}/ack", {"lease_id": "x"}, 404),
        ("post", f"/api/v1/queue/jobs/{uuid.uuid4()}/nack", {"lease_id": "x"}, 404),
        ("post", f"/api/v1/queue/jobs/{uuid.uuid4()}/requeue", None, 404),
        ("get", "/api/v1/queue/{topic}/dead?limit=0", None, 400),
        ("get", "/api/v1/queue/{topic}/dead?cursor=zz", None, 400),
    ],
)
def test_bad_input(rest: httpx.Client, topic: str, method, path, body, status) -> None:
    kwargs = {"json": body} if body is not None else {}
    response = getattr(rest, method)(path.format(topic=topic), **kwargs)
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_malformed_bodies(rest: httpx.Client, topic: str) -> None:
    assert rest.post(f"/api/v1/queue/{topic}", content=b"{nope").status_code == 400
    assert rest.post(f"/api/v1/queue/{topic}", content=b"[1]").status_code == 400
    job = rest.post(f"/api/v1/queue/{topic}", json={"payload": 1}).json()["data"]
    [held] = rest.post(f"/api/v1/queue/{topic}/lease", json={}).json()["data"]
    wrong = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": str(uuid.uuid4())})
    assert wrong.status_code == 409
    garbage = rest.post(f"/api/v1/queue/jobs/{job['id']}/ack", json={"lease_id": "garbage"})
    assert garbage.status_code == 409
    big = rest.post(
        f"/api/v1/queue/jobs/{job['id']}/ack",
        json={"lease_id": held["lease_id"], "result": "x" * (1024 * 1024 + 1)},
    )
    assert big.status_code == 413
    assert rest.get(f"/api/v1/queue/jobs/{job['id']}").json()["data"]["status"] == "leased"


# --- gRPC and the worker helper -------------------------------------------------


def test_worker_processes_with_results_and_flow_control(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c:
            ids = [(await c.enqueue(topic, {"n": i}))["id"] for i in range(40)]
            running = 0
            most = 0

            async def handle(job: Job) -> dict:
                nonlocal running, most
                running += 1
                most = max(most, running)
                await asyncio.sleep(0.01)
                running -= 1
                return {"double": job.payload["n"] * 2}

            worker = Worker(topic, handle, concurrency=4)
            task = asyncio.create_task(worker.run(c))
            for _ in range(600):
                if (await c.queue_stats(topic))["done"] == 40:
                    break
                await asyncio.sleep(0.05)
            worker.stop()
            await task
            assert most <= 4
            for i, jid in enumerate(ids):
                job = await c.get_job(jid)
                assert job["status"] == "done" and job["result"] == {"double": i * 2}

    run(scenario())


@pytest.mark.parametrize("keep_leases", [True, False])
def test_worker_keeps_the_lease_of_long_work(stack: Stack, topic: str, keep_leases: bool) -> None:
    """A handler that outlasts visibility_ms keeps its job (extended by the worker); without
    that the lease expires and the job is delivered again while the first run goes on."""

    async def scenario() -> None:
        async with client(stack) as c:
            jid = (await c.enqueue(topic, "slow"))["id"]
            attempts = []

            async def handle(job: Job) -> str:
                attempts.append(job.attempts)
                await asyncio.sleep(2.5)
                return "ok"

            worker = Worker(
                topic, handle, concurrency=2, visibility_ms=1000, keep_leases=keep_leases
            )
            task = asyncio.create_task(worker.run(c))
            for _ in range(200):
                if (await c.get_job(jid))["status"] == "done" or len(attempts) > 1:
                    break
                await asyncio.sleep(0.05)
            worker.stop()
            await task
            job = await c.get_job(jid)
            if keep_leases:
                assert attempts == [1]
                assert (job["status"], job["attempts"], job["result"]) == ("done", 1, "ok")
            else:
                assert attempts == [1, 2]  # handed out again while the first run went on

    run(scenario())


def test_subscribe_never_exceeds_max_in_flight(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c:
            for i in range(5):
                await c.enqueue(topic, i)
            request = pb.SubscribeRequest(topic=topic, max_in_flight=2)
            call = c.queue.Subscribe(request, metadata=(("x-api-key", stack.admin_key),))
            held = []
            while len(held) < 2:
                held += (await call.read()).jobs
            assert len(held) == 2
            pending = asyncio.create_task(call.read())
            done, _ = await asyncio.wait({pending}, timeout=0.5)
            assert not done  # no credit left
            await c.ack(held[0].id, held[0].lease_id)
            more = (await asyncio.wait_for(pending, 10)).jobs
            assert len(more) == 1
            call.cancel()

    run(scenario())


def test_subscribe_wakes_on_enqueue(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c, client(stack) as producer:
            call = c.queue.Subscribe(
                pb.SubscribeRequest(topic=topic), metadata=(("x-api-key", stack.admin_key),)
            )
            reading = asyncio.create_task(call.read())
            await asyncio.sleep(0.3)
            assert not reading.done()
            job = await producer.enqueue(topic, "wake up")
            answer = await asyncio.wait_for(reading, 10)
            assert [j.id for j in answer.jobs] == [job["id"]]
            call.cancel()

    run(scenario())


def test_grpc_errors(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c:
            with pytest.raises(PlinthError) as exc:
                await c.enqueue("no spaces allowed", 1)
            assert exc.value.code == "BAD_REQUEST"
            with pytest.raises(PlinthError) as exc:
                await c.get_job(str(uuid.uuid4()))
            assert exc.value.code == "NOT_FOUND"
            with pytest.raises(PlinthError) as exc:
                await c.lease(topic, visibility_ms=-5)
            assert exc.value.code == "BAD_REQUEST"
            bad = c.queue.Subscribe(
                pb.SubscribeRequest(topic=topic, max_in_flight=-1),
                metadata=(("x-api-key", stack.admin_key),),
            )
            with pytest.raises(Exception) as exc:
                await bad.read()
            assert "max_in_flight" in str(exc.value)

    run(scenario())


def test_graceful_shutdown_releases_leases(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c:
            job = await c.enqueue(topic, 1)
            started = asyncio.Event()

            async def slow(j: Job) -> None:
                started.set()
                await asyncio.sleep(60)

            worker = Worker(topic, slow, concurrency=1, grace=0.2)
            task = asyncio.create_task(worker.run(c))
            await asyncio.wait_for(started.wait(), 10)
            worker.stop()
            await asyncio.wait_for(task, 10)
            released = await c.get_job(job["id"])
            assert released["status"] == "failed"
            assert released["last_error"] == "released at shutdown"
            [again] = await c.lease(topic, wait_ms=5000)
            assert again["id"] == job["id"]

    run(scenario())


# --- guarantees with real processes -------------------------------------------


def _worker_env(stack: Stack, topic: str, mode: str, out: Path, addr: str | None = None):
    return {
        **stack.env,
        "PLINTH_CORE_ADDR": addr or stack.core_addr,
        "KEY": stack.admin_key,
        "TOPIC": topic,
        "MODE": mode,
        "OUT": str(out),
        "SLOTS": "4",
    }


def _lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_sigkilled_worker_loses_no_job(stack: Stack, topic: str, tmp_path: Path) -> None:
    held_file, acked_file = tmp_path / "held", tmp_path / "acked"

    async def enqueue() -> list[str]:
        async with client(stack) as c:
            return [(await c.enqueue(topic, {"n": i}))["id"] for i in range(12)]

    ids = run(enqueue())
    doomed = spawn(
        "doomed-worker",
        "tests.queue_worker",
        _worker_env(stack, topic, "hold", held_file),
        tmp_path,
    )
    try:
        wait_until(lambda: len(_lines(held_file)) == 4)  # its 4 slots are full
    finally:
        doomed.popen.send_signal(signal.SIGKILL)
        doomed.popen.wait()
    healthy = spawn(
        "worker", "tests.queue_worker", _worker_env(stack, topic, "ack", acked_file), tmp_path
    )
    try:
        wait_until(lambda: len({jid for jid, _ in _lines(acked_file)}) == len(ids))
    finally:
        healthy.stop()
    held = {jid for jid, _ in _lines(held_file)}
    acked = {jid for jid, _ in _lines(acked_file)}
    assert acked == set(ids) and held <= acked

    async def statuses() -> set[str]:
        async with client(stack) as c:
            return {(await c.get_job(jid))["status"] for jid in ids}

    assert run(statuses()) == {"done"}


def test_two_cores_and_many_workers_share_one_queue(
    stack: Stack, topic: str, tmp_path: Path
) -> None:
    second = f"127.0.0.1:{free_port()}"
    stack.start_core("core-queue-2", second)
    count = 200
    seen: list[tuple[str, str]] = []

    async def scenario() -> None:
        clients = [client(stack, addr) for addr in (stack.core_addr, second) * 3]

        async def handle(job: Job) -> None:
            seen.append((job.id, job.lease_id))
            await asyncio.sleep(0.002)

        workers = [Worker(topic, handle, concurrency=3, visibility_ms=60_000) for _ in clients]
        tasks = [asyncio.create_task(w.run(c)) for w, c in zip(workers, clients, strict=True)]
        async with client(stack, second) as producer:
            for i in range(count):
                await producer.enqueue(topic, i)
            for _ in range(600):
                if (await producer.queue_stats(topic))["done"] == count:
                    break
                await asyncio.sleep(0.05)
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        for c in clients:
            await c.close()

    try:
        run(scenario())
    finally:
        stack.processes.pop("core-queue-2").stop()
    ids = [jid for jid, _ in seen]
    assert len(ids) == count and len(set(ids)) == count  # each job delivered exactly once


def test_idle_subscribers_do_not_poll(stack: Stack, topic: str) -> None:
    async def scenario(conn: psycopg.Connection) -> tuple[int, int]:
        async with client(stack) as c:
            subs = [
                c.queue.Subscribe(
                    pb.SubscribeRequest(topic=topic), metadata=(("x-api-key", stack.admin_key),)
                )
                for _ in range(3)
            ]
            reads = [asyncio.create_task(s.read()) for s in subs]
            poll = asyncio.create_task(c.lease(topic, wait_ms=20000))
            await asyncio.sleep(2.0)  # let stats of earlier work settle

            def commits() -> int:
                return conn.execute(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                ).fetchone()[0]

            # The quietest of three windows: autovacuum (busy after the many tables a
            # session makes) commits too, in bursts; a polling loop would fill every window.
            windows = []
            for _ in range(3):
                before = commits()
                await asyncio.sleep(3.0)
                windows.append((commits() - before, before))
            delta, before = min(windows)
            after = before + delta
            job = await c.enqueue(topic, "now")
            done, pending = await asyncio.wait(
                [*reads, poll], timeout=10, return_when=asyncio.FIRST_COMPLETED
            )
            [first] = done
            answer = first.result()
            got = [j["id"] for j in answer] if first is poll else [j.id for j in answer.jobs]
            assert got == [job["id"]]
            for task in pending:
                task.cancel()
            for s in subs:
                s.cancel()
            return before, after

    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        before, after = run(scenario(conn))
    # Our own two reads commit too; a polling loop would commit many times a second.
    assert after - before <= 6, after - before


def test_internal_maintenance_jobs_exist(stack: Stack) -> None:
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        rows = dict(
            conn.execute(
                "SELECT payload->>'task', status FROM plinth.jobs"
                " WHERE space_id = '_plinth' AND topic = 'maintenance'"
            ).fetchall()
        )
    assert rows.keys() == {"kv.sweep_expired", "queue.purge_done"}
    assert set(rows.values()) <= {"queued", "leased"}


def test_purge_deletes_only_done_jobs_past_their_keep_time(
    rest: httpx.Client, stack: Stack, topic: str
) -> None:
    def job(name: str, settle: str | None, **body) -> str:
        jid = rest.post(f"/api/v1/queue/{topic}_{name}", json=body).json()["data"]["id"]
        if settle is not None:
            [held] = rest.post(f"/api/v1/queue/{topic}_{name}/lease", json={}).json()["data"]
            answer = rest.post(
                f"/api/v1/queue/jobs/{jid}/{settle}",
                json={
                    "lease_id": held["lease_id"],
                    **({"retry": False} if settle == "nack" else {}),
                },
            )
            assert answer.status_code == 200, answer.text
        return jid

    old = {"done": job("a", "ack"), "dead": job("b", "nack"), "queued": job("c", None)}
    time.sleep(0.6)
    recent = job("d", "ack")

    async def purge() -> int:
        async with await psycopg.AsyncConnection.connect(
            stack.database_url(), autocommit=True
        ) as conn:
            return await purge_done(conn, keep_seconds=0.4, batch=1)

    assert asyncio.run(purge()) >= 1
    assert rest.get(f"/api/v1/queue/jobs/{old['done']}").status_code == 404
    for status in ("dead", "queued"):
        assert rest.get(f"/api/v1/queue/jobs/{old[status]}").json()["data"]["status"] == status
    assert rest.get(f"/api/v1/queue/jobs/{recent}").json()["data"]["status"] == "done"


def test_graphql_enqueue_and_job(stack: Stack, topic: str) -> None:
    def gql(query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            f"{stack.graphql_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=stack.headers(),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    created = gql(
        "mutation($t: String!, $p: JSON) { enqueue(topic: $t, payload: $p, delayMs: 5)"
        " { id topic status payload maxAttempts } }",
        {"t": topic, "p": {"to": "x"}},
    )
    job = created["data"]["enqueue"]
    assert job["status"] == "queued" and job["payload"] == {"to": "x"} and job["maxAttempts"] == 5
    read = gql("query($id: ID!) { job(id: $id) { id status attempts } }", {"id": job["id"]})
    assert read["data"]["job"] == {"id": job["id"], "status": "queued", "attempts": 0}
    missing = gql("query($id: ID!) { job(id: $id) { id } }", {"id": str(uuid.uuid4())})
    assert missing["data"]["job"] is None
    bad = gql('mutation { enqueue(topic: "no way", payload: 1) { id } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_batch_enqueue_and_ack(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c:
            ids = await c.enqueue_batch(topic, [{"n": i} for i in range(30)])
            assert len(set(ids)) == 30
            assert [(await c.get_job(i))["payload"]["n"] for i in ids[:3]] == [0, 1, 2]
            leased = await c.lease(topic, max_jobs=100)
            assert sorted(j["id"] for j in leased) == sorted(ids)
            acks = [pb.AckRequest(id=j["id"], lease_id=j["lease_id"]) for j in leased[:10]]
            acks.append(pb.AckRequest(id=leased[10]["id"], lease_id=str(uuid.uuid4())))
            acks.append(pb.AckRequest(id="nope", lease_id="nope"))
            answer = await c.call(c.queue.AckBatch, pb.AckBatchRequest(acks=acks))
            assert sorted(answer.refused_ids) == sorted([leased[10]["id"], "nope"])
            assert (await c.queue_stats(topic))["done"] == 10
            with pytest.raises(PlinthError) as exc:
                await c.enqueue_batch(topic, [1] * 1001)
            assert exc.value.code == "PAYLOAD_TOO_LARGE"
            bad = pb.EnqueueBatchRequest(
                jobs=[pb.EnqueueRequest(topic=topic), pb.EnqueueRequest(topic="bad topic")]
            )
            with pytest.raises(PlinthError) as exc:
                await c.call(c.queue.EnqueueBatch, bad)
            assert exc.value.code == "BAD_REQUEST" and "jobs[1]" in exc.value.message
            assert (await c.queue_stats(topic))["queued"] == 0  # nothing of the bad batch

    run(scenario())


def test_worker_without_batched_acks(stack: Stack, topic: str) -> None:
    async def scenario() -> None:
        async with client(stack) as c:
            await c.enqueue_batch(topic, list(range(10)))

            async def handle(job: Job) -> int:
                return job.payload

            worker = Worker(topic, handle, concurrency=2, batch_acks=False)
            task = asyncio.create_task(worker.run(c))
            for _ in range(600):
                if (await c.queue_stats(topic))["done"] == 10:
                    break
                await asyncio.sleep(0.05)
            worker.stop()
            await task
            assert (await c.queue_stats(topic))["done"] == 10

    run(scenario())
