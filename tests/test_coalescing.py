"""Calls that meet in flight share one batch call (plinth.coalesce): GetKey through
GetKeys, SetKey through SetKeys, Enqueue through EnqueueBatch, on the client and through
both gateways. Every
caller must get exactly the answer its own call would have got alone, and calls with
different credentials must never share a batch."""

from __future__ import annotations

import asyncio
import collections
import uuid
from urllib.parse import quote

import grpc
import httpx
import orjson
import pytest
from plinth import AsyncClient, PlinthError
from plinth.coalesce import Coalescer
from plinth.v1 import kv_service_pb2 as kv
from plinth.v1 import queue_service_pb2 as qpb

from tests.conftest import Stack

# --- the coalescer alone ----------------------------------------------------------------


def test_a_lone_call_leaves_at_once_and_calls_meeting_in_flight_share_the_next() -> None:
    batches: list[list[int]] = []

    async def send(key, items):
        batches.append(items)
        await asyncio.sleep(0.01)
        return [item * 10 for item in items]

    async def run() -> list[int]:
        coalescer = Coalescer(send, max_items=100)
        first = asyncio.create_task(coalescer.call("k", 1))
        await asyncio.sleep(0.001)  # the first is in flight
        rest = [asyncio.create_task(coalescer.call("k", n)) for n in range(2, 8)]
        return await asyncio.gather(first, *rest)

    assert asyncio.run(run()) == [10, 20, 30, 40, 50, 60, 70]
    assert batches == [[1], [2, 3, 4, 5, 6, 7]]


def test_with_two_in_flight_a_second_call_leaves_while_the_first_is_out() -> None:
    batches: list[list[int]] = []
    running = 0
    most = 0

    async def send(key, items):
        nonlocal running, most
        batches.append(items)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return items

    async def run() -> list[int]:
        coalescer = Coalescer(send, max_items=100, in_flight=2)
        first = asyncio.create_task(coalescer.call("k", 1))
        await asyncio.sleep(0.001)
        second = asyncio.create_task(coalescer.call("k", 2))
        await asyncio.sleep(0.001)
        rest = [asyncio.create_task(coalescer.call("k", n)) for n in range(3, 9)]
        return await asyncio.gather(first, second, *rest)

    assert asyncio.run(run()) == list(range(1, 9))
    assert batches[:2] == [[1], [2]]
    assert sorted(n for batch in batches[2:] for n in batch) == list(range(3, 9))
    assert most == 2


def test_batches_respect_item_and_byte_limits_and_keys_never_mix() -> None:
    batches: list[tuple[str, list[bytes]]] = []

    async def send(key, items):
        batches.append((key, items))
        await asyncio.sleep(0)
        return [len(item) for item in items]

    async def run() -> list[int]:
        coalescer = Coalescer(send, max_items=3, max_bytes=10)
        calls = [coalescer.call("a", b"x" * n) for n in (1, 2, 3, 4, 9, 12, 1)]
        calls += [coalescer.call("b", b"y")]
        return await asyncio.gather(*calls)

    assert asyncio.run(run()) == [1, 2, 3, 4, 9, 12, 1, 1]
    sizes = [(key, [len(item) for item in items]) for key, items in batches]
    assert sizes == [("a", [1, 2, 3]), ("b", [1]), ("a", [4]), ("a", [9]), ("a", [12]), ("a", [1])]


def test_each_caller_gets_its_own_outcome_and_a_failed_call_fails_its_batch_only() -> None:
    async def send(key, items):
        await asyncio.sleep(0)
        if "boom" in items:
            raise ConnectionError("down")
        return [ValueError(item) if item.startswith("bad") else item.upper() for item in items]

    async def run() -> list:
        coalescer = Coalescer(send, max_items=2)
        calls = [coalescer.call("k", item) for item in ("a", "bad1", "boom", "b", "c")]
        return await asyncio.gather(*calls, return_exceptions=True)

    a, bad, boom, b, c = asyncio.run(run())
    assert a == "A" and str(bad) == "bad1" and isinstance(bad, ValueError)
    assert isinstance(boom, ConnectionError) and isinstance(b, ConnectionError)  # one batch
    assert c == "C"


def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    async def send(key, items):
        await asyncio.sleep(0.01)
        return list(items)

    async def run() -> list:
        coalescer = Coalescer(send, max_items=10)
        calls = [asyncio.create_task(coalescer.call("k", n)) for n in range(4)]
        await asyncio.sleep(0.001)
        calls[2].cancel()
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(run())
    assert outcomes[:2] == [0, 1] and outcomes[3] == 3
    assert isinstance(outcomes[2], asyncio.CancelledError)


# --- through core -----------------------------------------------------------------------


class Counter(grpc.aio.UnaryUnaryClientInterceptor):
    """Counts the RPCs a client really sends, by method."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    async def intercept_unary_unary(self, continuation, details, request):
        self.calls[details.method.decode().rsplit("/", 1)[-1]] += 1
        return await continuation(details, request)


def counted_client(stack: Stack, **kwargs) -> tuple[AsyncClient, Counter]:
    counter = Counter()
    channel = grpc.aio.insecure_channel(stack.core_addr, interceptors=[counter])
    return AsyncClient(stack.core_addr, channel=channel, api_key=stack.admin_key, **kwargs), counter


def _outcome(call):
    async def run():
        try:
            return await call
        except PlinthError as exc:
            return (exc.code, exc.message, exc.details)

    return run()


def test_get_keys_answers_each_key_as_get_key_would(stack: Stack) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}:"
    keys = [prefix + "a", prefix + "missing", "", "bad\x01key", prefix + "a", "k" * 513]

    async def run():
        async with AsyncClient(stack.core_addr, api_key=stack.admin_key, coalesce=False) as one:
            await one.kv_set(prefix + "a", {"v": 1}, ttl_ms=60_000)
            alone = [await _outcome(one.key_entry(key)) for key in keys]
            answer = await one.call(one.kv.GetKeys, kv.GetKeysRequest(keys=keys))
            with pytest.raises(PlinthError) as too_many:
                await one.call(one.kv.GetKeys, kv.GetKeysRequest(keys=["k"] * 1001))
        return alone, answer, too_many.value

    alone, answer, too_many = asyncio.run(run())
    assert [lookup.WhichOneof("outcome") for lookup in answer.lookups] == [
        "entry", "error", "error", "error", "entry", "error"
    ]  # fmt: skip
    for lookup, expected in zip(answer.lookups, alone, strict=True):
        if lookup.HasField("entry"):
            assert lookup.entry == expected and orjson.loads(lookup.entry.value) == {"v": 1}
            assert lookup.entry.HasField("expires_at")
        else:
            error = PlinthError.from_status(lookup.error)
            assert (error.code, error.message, error.details) == expected
    assert [outcome[0] for outcome in alone if isinstance(outcome, tuple)] == [
        "NOT_FOUND", "BAD_REQUEST", "BAD_REQUEST", "BAD_REQUEST"
    ]  # fmt: skip
    assert too_many.code == "PAYLOAD_TOO_LARGE"


def test_concurrent_key_lookups_share_calls_and_get_their_own_answers(stack: Stack) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}:"
    keys = [prefix + str(n) for n in range(60)] + [prefix + "nope", "", prefix + "0"]

    async def run():
        client, counter = counted_client(stack)
        async with client:
            for n in range(60):
                await client.kv_set(prefix + str(n), n)
            answers = await asyncio.gather(*(_outcome(client.key_entry(key)) for key in keys))
        return answers, counter.calls

    answers, calls = asyncio.run(run())
    assert [orjson.loads(a.value) for a in answers[:60]] == list(range(60))
    assert answers[60][0] == "NOT_FOUND" and answers[61][0] == "BAD_REQUEST"
    assert orjson.loads(answers[62].value) == 0
    assert calls["GetKeys"] < len(keys) / 4 and calls["GetKey"] == 0


def test_rest_gets_of_different_callers_never_share_answers(stack: Stack) -> None:
    """Two spaces hold the same key names with different values; concurrent GETs from
    both, and from a bad key, each get what their own caller may see."""
    other = stack.other_space_key()
    prefix = f"c{uuid.uuid4().hex[:8]}:"
    names = [prefix + str(n) for n in range(20)]

    async def run():
        mine = httpx.AsyncClient(base_url=stack.rest_url, headers=stack.headers())
        theirs = httpx.AsyncClient(base_url=stack.rest_url, headers=stack.headers(other))
        stranger = httpx.AsyncClient(base_url=stack.rest_url, headers=stack.headers("plk_nope"))
        async with mine, theirs, stranger:
            for n, name in enumerate(names):
                assert (await mine.put(f"/api/v1/kv/{quote(name)}", json=n)).status_code == 200
                if n % 2 == 0:
                    await theirs.put(f"/api/v1/kv/{quote(name)}", json=f"theirs {n}")
            requests = []
            for name in names * 3:
                for client in (mine, theirs, stranger):
                    requests.append(client.get(f"/api/v1/kv/{quote(name)}"))
            return await asyncio.gather(*requests)

    answers = iter(asyncio.run(run()))
    for _ in range(3):
        for n, _name in enumerate(names):
            mine, theirs, stranger = next(answers), next(answers), next(answers)
            assert mine.status_code == 200 and mine.json()["data"]["value"] == n
            if n % 2 == 0:
                assert theirs.json()["data"]["value"] == f"theirs {n}"
            else:
                assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "NOT_FOUND"
            assert stranger.status_code == 401


# --- key writes ---------------------------------------------------------------------------


def test_set_keys_answers_each_entry_as_set_key_would(stack: Stack) -> None:
    prefix = f"w{uuid.uuid4().hex[:8]}:"
    entries = [
        kv.SetKeyRequest(key=prefix + "a", value=b'{"v": 1}', ttl_ms=60_000),
        kv.SetKeyRequest(key="", value=b"1"),
        kv.SetKeyRequest(key=prefix + "b", value=b"not json"),
        kv.SetKeyRequest(key=prefix + "c", value=b"1", ttl_ms=-5),
        kv.SetKeyRequest(key=prefix + "d", value=b'"' + b"x" * (1024 * 1024) + b'"'),
        kv.SetKeyRequest(key=prefix + "e", value=b"[1, 2]"),
    ]

    async def run():
        async with AsyncClient(stack.core_addr, api_key=stack.admin_key, coalesce=False) as one:
            alone = [await _outcome(one.set_entry(entry)) for entry in entries]
            answer = await one.call(one.kv.SetKeys, kv.SetKeysRequest(entries=entries))
            stored = [await _outcome(one.key_entry(prefix + k)) for k in "abcde"]
            with pytest.raises(PlinthError) as too_many:
                await one.call(one.kv.SetKeys, kv.SetKeysRequest(entries=entries[:1] * 1001))
        return alone, answer, stored, too_many.value

    alone, answer, stored, too_many = asyncio.run(run())
    assert [write.WhichOneof("outcome") for write in answer.writes] == [
        "entry", "error", "error", "error", "error", "entry"
    ]  # fmt: skip
    for write, expected in zip(answer.writes, alone, strict=True):
        if write.HasField("entry"):
            assert write.entry.key == expected.key and write.entry.value == expected.value
            assert write.entry.HasField("expires_at") == expected.HasField("expires_at")
        else:
            error = PlinthError.from_status(write.error)
            assert (error.code, error.message, error.details) == expected
    assert [outcome[0] for outcome in alone if isinstance(outcome, tuple)] == [
        "BAD_REQUEST", "BAD_REQUEST", "BAD_REQUEST", "PAYLOAD_TOO_LARGE"
    ]  # fmt: skip
    # Only the good entries were written (stored as jsonb prints them).
    assert orjson.loads(stored[0].value) == {"v": 1} and stored[0].HasField("expires_at")
    assert [s[0] for s in stored[1:4]] == ["NOT_FOUND"] * 3
    assert stored[4].value == b"[1, 2]" and not stored[4].HasField("expires_at")
    assert too_many.code == "PAYLOAD_TOO_LARGE"


def test_set_keys_writes_a_key_given_twice_in_order(grpc_client) -> None:
    key = f"w{uuid.uuid4().hex[:8]}:twice"
    entries = [kv.SetKeyRequest(key=key, value=orjson.dumps(n)) for n in range(3)]
    entries.insert(1, kv.SetKeyRequest(key=key + "-other", value=b"0"))
    answer = grpc_client.call(grpc_client.kv.SetKeys, kv.SetKeysRequest(entries=entries))
    assert [orjson.loads(w.entry.value) for w in answer.writes] == [0, 0, 1, 2]
    assert grpc_client.kv_get(key) == 2


def test_concurrent_key_writes_share_calls_and_reads_see_them(stack: Stack) -> None:
    prefix = f"w{uuid.uuid4().hex[:8]}:"

    async def run():
        client, counter = counted_client(stack)
        async with client:
            writes = [client.kv_set(prefix + str(n), n) for n in range(60)]
            writes += [_outcome(client.kv_set("bad\x01", 1)), client.kv_set(prefix + "0", "last")]
            answers = await asyncio.gather(*writes)
            read = await client.kv_list(prefix)
        return answers, read, counter.calls

    answers, read, calls = asyncio.run(run())
    assert answers[60][0] == "BAD_REQUEST"
    assert read == {prefix + str(n): n for n in range(1, 60)} | {prefix + "0": "last"}
    assert calls["SetKeys"] < 62 / 4 and calls["SetKey"] <= 1


# --- enqueues -----------------------------------------------------------------------------


def test_concurrent_enqueues_share_calls_and_a_bad_job_fails_alone(stack: Stack) -> None:
    topic = f"c_{uuid.uuid4().hex[:8]}"
    jobs = [(topic, {"n": n}) for n in range(40)]
    jobs[7] = ("bad topic!", {"n": 7})
    jobs[23] = (topic, {"n": "x" * (1024 * 1024 + 10)})  # over 1 MiB

    async def run():
        client, counter = counted_client(stack)
        async with (
            client,
            AsyncClient(stack.core_addr, api_key=stack.admin_key, coalesce=False) as alone,
        ):
            await asyncio.gather(*(client.enqueue(topic + "_good", {"n": n}) for n in range(40)))
            batched = dict(counter.calls)
            answers = await asyncio.gather(*(_outcome(client.enqueue(t, p)) for t, p in jobs))
            expected = [await _outcome(alone.enqueue(t, p)) for t, p in (jobs[7], jobs[23])]
            fetched = [await client.get_job(a["id"]) for a in answers if isinstance(a, dict)]
            stats = await client.queue_stats(topic)
        return answers, expected, fetched, stats, batched

    answers, expected, fetched, stats, calls = asyncio.run(run())
    assert [answers[7], answers[23]] == expected
    assert [code for code, *_ in expected] == ["BAD_REQUEST", "PAYLOAD_TOO_LARGE"]
    good = [a for a in answers if isinstance(a, dict)]
    assert len(good) == 38 and len({a["id"] for a in good}) == 38
    assert stats["queued"] == 38
    assert [a["payload"] for a in good] == [p for n, (_, p) in enumerate(jobs) if n not in (7, 23)]
    for answer, job in zip(good, fetched, strict=True):
        assert answer == job and answer["status"] == "queued" and answer["attempts"] == 0
    # 40 good jobs at once went in a few calls (a refused batch goes again one by one).
    assert calls["EnqueueBatch"] + calls.get("Enqueue", 0) < 40 / 4


def test_enqueue_batch_answers_the_jobs_in_order(grpc_client) -> None:
    topic = f"c_{uuid.uuid4().hex[:8]}"
    request = qpb.EnqueueBatchRequest(
        jobs=[
            qpb.EnqueueRequest(topic=topic, payload=orjson.dumps(n), delay_ms=n * 1000)
            for n in range(5)
        ]
    )
    answer = grpc_client.call(grpc_client.queue.EnqueueBatch, request)
    assert list(answer.ids) == [job.id for job in answer.jobs]
    assert [orjson.loads(job.payload) for job in answer.jobs] == list(range(5))
    run_at = [job.run_at.ToMilliseconds() for job in answer.jobs]
    assert run_at == sorted(run_at) and run_at[4] - run_at[0] >= 3900
    for job in answer.jobs:
        stored = grpc_client.call(grpc_client.queue.GetJob, qpb.GetJobRequest(id=job.id)).job
        assert stored == job


@pytest.mark.parametrize("surface", ["rest", "graphql"])
def test_gateway_enqueues_in_flight_together_each_get_their_answer(
    stack: Stack, surface: str
) -> None:
    topic = f"c_{uuid.uuid4().hex[:8]}"
    payloads = [{"n": n} for n in range(30)]

    async def post(http: httpx.AsyncClient, n: int, payload) -> tuple[int, dict]:
        name = topic if n != 11 else "bad topic!"
        if surface == "rest":
            answer = await http.post(
                f"{stack.rest_url}/api/v1/queue/{quote(name)}", json={"payload": payload}
            )
            return answer.status_code, answer.json()
        query = "mutation($t: String!, $p: JSON) { enqueue(topic: $t, payload: $p) { id payload } }"
        answer = await http.post(
            f"{stack.graphql_url}/graphql",
            json={"query": query, "variables": {"t": name, "p": payload}},
        )
        return answer.status_code, answer.json()

    async def run():
        async with httpx.AsyncClient(headers=stack.headers(), timeout=60) as http:
            return await asyncio.gather(*(post(http, n, p) for n, p in enumerate(payloads)))

    answers = asyncio.run(run())
    ids = set()
    for n, (status, body) in enumerate(answers):
        if surface == "rest":
            if n == 11:
                assert status == 400 and body["error"]["code"] == "BAD_REQUEST"
                continue
            assert status == 201 and body["data"]["payload"] == {"n": n}
            ids.add(body["data"]["id"])
        else:
            if n == 11:
                assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
                continue
            assert body["data"]["enqueue"]["payload"] == {"n": n}
            ids.add(body["data"]["enqueue"]["id"])
    assert len(ids) == 29
    stats = httpx.get(f"{stack.rest_url}/api/v1/queue/{topic}/stats", headers=stack.headers())
    assert stats.json()["data"]["queued"] == 29
