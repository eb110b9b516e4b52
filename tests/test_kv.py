"""The key-value store end to end: REST, gRPC and GraphQL against the real stack,
TTLs, atomic increments, paging, bad input, and cache coherence across core processes."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import orjson
import psycopg
import pytest
from plinth import AsyncClient, Client, PlinthError
from plinth.v1 import kv_service_pb2 as pb
from psycopg_pool import AsyncConnectionPool

from core.kv.cache import KvCache
from core.kv.store import sweep_expired
from launcher.processes import free_port
from tests.conftest import INTERNAL_MARK, Stack

REDIS_URL = os.environ.get("PLINTH_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="PLINTH_REDIS_URL is not set: no Redis server to test the shared cache"
)


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix, so tests never share entries."""
    return f"t{uuid.uuid4().hex[:10]}:"


def url(key: str) -> str:
    return "/api/v1/kv/" + quote(key, safe="/:")


def space_id(stack: Stack) -> str:
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        client.kv_set("__probe", 1)
    with psycopg.connect(stack.database_url()) as conn:
        row = conn.execute("SELECT space_id FROM plinth.kv WHERE key = '__probe'").fetchone()
    return row[0]


def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- REST ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [{"a": [1, 2, {"b": None}]}, "text", 42, 1.5, None, [1, "x"], True, {}]
)
def test_rest_put_get_delete_any_json(rest: httpx.Client, prefix: str, value) -> None:
    key = prefix + "v"
    put = rest.put(url(key), content=orjson.dumps(value))  # json=None would send no body
    assert put.status_code == 200, put.text
    assert put.json() == {"data": {"key": key, "value": value, "expires_at": None}}
    assert rest.get(url(key)).json()["data"] == {"key": key, "value": value, "expires_at": None}
    assert rest.delete(url(key)).json() == {"data": {"key": key, "deleted": True}}
    assert rest.get(url(key)).status_code == 404
    assert rest.delete(url(key)).json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "suffix",
    [
        "user:1/settings",
        "a/b/c/d/e/f/g/h",
        "r/relationships/x",
        "with space",
        "ünï-cødé",
        "q?x#y%z",
        "x/incr",
    ],
)
def test_rest_keys_with_slashes_colons_and_escapes(rest: httpx.Client, prefix: str, suffix) -> None:
    key = prefix + suffix
    path = "/api/v1/kv/" + quote(key, safe="/:")
    if suffix == "x/incr":  # a key ending in /incr: encode its last slash
        path = "/api/v1/kv/" + quote(key, safe=":")
    assert rest.put(path, json={"k": suffix}).status_code == 200
    got = rest.get(path)
    assert got.status_code == 200, got.text
    assert got.json()["data"]["key"] == key
    listed = rest.get("/api/v1/kv", params={"prefix": prefix}).json()["data"]
    assert [e["key"] for e in listed] == [key]


def test_rest_ttl_expires(rest: httpx.Client, prefix: str) -> None:
    key = prefix + "short"
    put = rest.put(url(key), params={"ttl": 400}, json="soon gone")
    assert put.status_code == 200
    assert put.json()["data"]["expires_at"].endswith("Z")
    assert rest.get(url(key)).json()["data"]["value"] == "soon gone"
    rest.put(url(prefix + "long"), params={"ttl": 600_000}, json=1)
    rest.put(url(prefix + "never"), json=2)

    def expired() -> None:
        assert _status(rest, key) == 404
        listed = rest.get("/api/v1/kv", params={"prefix": prefix}).json()["data"]
        assert [e["key"] for e in listed] == [prefix + "long", prefix + "never"]

    eventually(expired, timeout=15)
    # An expired counter counts from 0 again.
    rest.put(url(prefix + "n"), params={"ttl": 100}, json=41)
    time.sleep(0.3)
    assert rest.post(url(prefix + "n") + "/incr").json()["data"]["value"] == 1
    assert rest.get(url(prefix + "n")).json()["data"]["expires_at"] is None


def _status(rest: httpx.Client, path_key: str) -> int:
    return rest.get(url(path_key)).status_code


def test_rest_put_again_replaces_value_and_ttl(rest: httpx.Client, prefix: str) -> None:
    key = prefix + "k"
    rest.put(url(key), params={"ttl": 200}, json=1)
    rest.put(url(key), json=2)
    time.sleep(0.4)
    assert rest.get(url(key)).json()["data"] == {"key": key, "value": 2, "expires_at": None}


def test_rest_incr_decr(rest: httpx.Client, prefix: str) -> None:
    key = prefix + "counter"
    assert rest.post(url(key) + "/incr").json() == {"data": {"key": key, "value": 1}}
    assert rest.post(url(key) + "/incr", json={"by": 10}).json()["data"]["value"] == 11
    assert rest.post(url(key) + "/decr", json={"by": 4}).json()["data"]["value"] == 7
    assert rest.post(url(key) + "/decr").json()["data"]["value"] == 6
    assert rest.post(url(key) + "/incr", json={"by": None}).json()["data"]["value"] == 7
    assert rest.post(url(key) + "/decr", json={"by": 1}).json()["data"]["value"] == 6
    assert rest.post(url(prefix + "neg") + "/decr", json={"by": 3}).json()["data"]["value"] == -3
    rest.put(url(prefix + "f"), json=1.5)
    assert rest.post(url(prefix + "f") + "/incr").json()["data"]["value"] == 2.5
    assert rest.get(url(key)).json()["data"]["value"] == 6
    # A TTL survives increments.
    rest.put(url(prefix + "t"), params={"ttl": 600_000}, json=1)
    rest.post(url(prefix + "t") + "/incr")
    assert rest.get(url(prefix + "t")).json()["data"]["expires_at"] is not None


@pytest.mark.parametrize("value", ["text", {"a": 1}, [1], None, True])
def test_rest_incr_of_a_non_number_is_409(rest: httpx.Client, prefix: str, value) -> None:
    key = prefix + "x"
    rest.put(url(key), content=orjson.dumps(value))
    answer = rest.post(url(key) + "/incr")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "CONFLICT"
    assert rest.get(url(key)).json()["data"]["value"] == value


def test_rest_list_paging_and_literal_prefix(rest: httpx.Client, prefix: str) -> None:
    keys = [f"{prefix}item:{n:03d}" for n in range(25)]
    for key in keys:
        rest.put(url(key), json={"n": key})
    # `%` and `_` are not patterns.
    rest.put(url(prefix + "a%b"), json=1)
    rest.put(url(prefix + "a_b"), json=2)
    rest.put(url(prefix + "axb"), json=3)
    # Core owns the default page size and says which it used.
    default = rest.get("/api/v1/kv", params={"prefix": prefix + "item:"}).json()["meta"]
    assert default["limit"] == 100
    seen, cursor = [], ""
    while True:
        page = rest.get(
            "/api/v1/kv", params={"prefix": prefix + "item:", "limit": 10, "cursor": cursor}
        ).json()
        seen += [e["key"] for e in page["data"]]
        assert page["meta"]["limit"] == 10
        if not page["meta"]["has_more"]:
            assert page["meta"]["next_cursor"] is None
            break
        cursor = page["meta"]["next_cursor"]
    assert seen == keys
    for pattern, expected in (("a%", ["a%b"]), ("a_", ["a_b"]), ("a", ["a%b", "a_b", "axb"])):
        found = rest.get("/api/v1/kv", params={"prefix": prefix + pattern}).json()["data"]
        assert [e["key"] for e in found] == [prefix + k for k in expected]
    # A cursor of another prefix is refused.
    other = rest.get(
        "/api/v1/kv", params={"prefix": prefix + "item", "limit": 1, "cursor": cursor or "x"}
    )
    assert other.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("put", "k", {"params": {"ttl": -1}, "json": 1}, 400, "BAD_REQUEST"),
        ("put", "k", {"params": {"ttl": "soon"}, "json": 1}, 400, "BAD_REQUEST"),
        ("put", "k", {"params": {"ttl": "1.5"}, "json": 1}, 400, "BAD_REQUEST"),
        ("put", "k", {"params": {"ttl": str(10**30)}, "json": 1}, 400, "BAD_REQUEST"),
        ("put", "k", {"content": b"{not json"}, 400, "BAD_REQUEST"),
        ("put", "k", {"content": b""}, 400, "BAD_REQUEST"),
        ("put", "k", {"content": b'"nul \\u0000"'}, 400, "BAD_REQUEST"),
        ("put", "k", {"content": b'"' + b"x" * (1024 * 1024) + b'"'}, 413, "PAYLOAD_TOO_LARGE"),
        ("put", "x" * 513, {"json": 1}, 400, "BAD_REQUEST"),
        ("put", "bell%07", {"json": 1}, 400, "BAD_REQUEST"),
        ("put", "nonchar%EF%BF%BF", {"json": 1}, 400, "BAD_REQUEST"),
        ("get", "x" * 513, {}, 400, "BAD_REQUEST"),
        ("post", "k/incr", {"json": {"by": "x"}}, 400, "BAD_REQUEST"),
        ("post", "k/incr", {"json": {"by": 1.5}}, 400, "BAD_REQUEST"),
        ("post", "k/incr", {"json": {"by": True}}, 400, "BAD_REQUEST"),
        ("post", "k/incr", {"json": {"by": 2**64}}, 400, "BAD_REQUEST"),
        ("post", "k/incr", {"content": b"{"}, 400, "BAD_REQUEST"),
        ("post", "k/incr", {"json": [1]}, 400, "BAD_REQUEST"),
        ("post", "k/other", {"json": {}}, 405, "BAD_REQUEST"),
        ("get", "", {"params": {"limit": 1001}}, 400, "BAD_REQUEST"),
        ("get", "", {"params": {"limit": "many"}}, 400, "BAD_REQUEST"),
        ("get", "", {"params": {"cursor": "garbage!"}}, 400, "BAD_REQUEST"),
        ("get", "missing-key", {}, 404, "NOT_FOUND"),
    ],
)
def test_rest_bad_input(rest: httpx.Client, prefix, method, path, kwargs, status, code) -> None:
    target = "/api/v1/kv" if path == "" else "/api/v1/kv/" + prefix + path
    answer = (
        getattr(rest, method)(target, **kwargs) if method != "put" else rest.put(target, **kwargs)
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_rest_incr_at_int64_edges_stays_exact(rest: httpx.Client, prefix: str) -> None:
    key = prefix + "big"
    rest.put(url(key), json=2**63 - 1)
    assert rest.post(url(key) + "/incr").json()["data"]["value"] == 2**63
    assert rest.get(url(key)).json()["data"]["value"] == 2**63


def test_rest_unauthenticated(stack: Stack, prefix: str) -> None:
    answer = httpx.get(stack.rest_url + url(prefix + "k"))
    assert answer.status_code == 401


# --- concurrency ---------------------------------------------------------------


def test_concurrent_increments_add_up_exactly(stack: Stack, prefix: str) -> None:
    key = prefix + "hits"

    async def run() -> int:
        async with AsyncClient(stack.core_addr, api_key=stack.admin_key) as client:
            results = await asyncio.gather(*(client.kv_incr(key) for _ in range(300)))
            assert sorted(results) == list(range(1, 301))  # each saw a distinct value
            await asyncio.gather(*(client.kv_incr(key, -2) for _ in range(50)))
            return await client.kv_get(key)

    assert asyncio.run(run()) == 200

    def rest_incr(_: int) -> int:
        with httpx.Client(base_url=stack.rest_url, headers=stack.headers()) as client:
            return client.post(url(key) + "/incr", json={"by": 3}).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(rest_incr, range(64))) == {200}
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        assert client.kv_get(key) == 200 + 64 * 3


# --- gRPC --------------------------------------------------------------------------


def test_grpc_end_to_end(grpc_client: Client, prefix: str) -> None:
    c = grpc_client
    assert c.kv_get(prefix + "none", "default") == "default"
    c.kv_set(prefix + "a", {"deep": [1, 2]})
    c.kv_set(prefix + "b", "two", ttl_ms=60_000)
    assert c.kv_get(prefix + "a") == {"deep": [1, 2]}
    answer = c.call(c.kv.GetKey, pb.GetKeyRequest(key=prefix + "b"))
    assert answer.entry.HasField("expires_at")
    assert c.kv_incr(prefix + "n", 5) == 5
    assert c.kv_list(prefix, page_size=1) == {
        prefix + "a": {"deep": [1, 2]},
        prefix + "b": "two",
        prefix + "n": 5,
    }
    assert c.kv_delete(prefix + "a") is True
    assert c.kv_delete(prefix + "a") is False


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.SetKeyRequest(key="", value=b"1"), "BAD_REQUEST"),
        (pb.SetKeyRequest(key="k\n", value=b"1"), "BAD_REQUEST"),
        (pb.SetKeyRequest(key="k\x7f", value=b"1"), "BAD_REQUEST"),
        (pb.SetKeyRequest(key="k", value=b"1", ttl_ms=-5), "BAD_REQUEST"),
        (pb.SetKeyRequest(key="k", value=b"\xff"), "BAD_REQUEST"),
        (pb.SetKeyRequest(key="k", value=b"1" * (1024 * 1024 + 1)), "PAYLOAD_TOO_LARGE"),
        (pb.GetKeyRequest(key=""), "BAD_REQUEST"),
        (pb.DeleteKeyRequest(key="x" * 513), "BAD_REQUEST"),
        (pb.IncrementKeyRequest(key="\x00"), "BAD_REQUEST"),
        (pb.ListKeysRequest(page_size=-1), "BAD_REQUEST"),
        (pb.ListKeysRequest(page_size=1001), "BAD_REQUEST"),
        (pb.ListKeysRequest(prefix="\x01"), "BAD_REQUEST"),
    ],
)
def test_grpc_bad_input(grpc_client: Client, request_, code: str) -> None:
    method = {
        pb.SetKeyRequest: grpc_client.kv.SetKey,
        pb.GetKeyRequest: grpc_client.kv.GetKey,
        pb.DeleteKeyRequest: grpc_client.kv.DeleteKey,
        pb.IncrementKeyRequest: grpc_client.kv.IncrementKey,
        pb.ListKeysRequest: grpc_client.kv.ListKeys,
    }[type(request_)]
    with pytest.raises(PlinthError) as caught:
        grpc_client.call(method, request_)
    assert caught.value.code == code


def test_key_of_512_characters_is_fine(grpc_client: Client) -> None:
    key = uuid.uuid4().hex + "é" * 480
    assert len(key) == 512
    grpc_client.kv_set(key, 1)
    assert grpc_client.kv_get(key) == 1


# --- GraphQL ---------------------------------------------------------------------


def gql(stack: Stack, query: str, variables: dict | None = None) -> dict:
    answer = httpx.post(
        stack.graphql_url + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers=stack.headers(),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_graphql_kv(stack: Stack, prefix: str) -> None:
    key = prefix + "g/1"
    set_ = gql(
        stack,
        "mutation($k: String!, $v: JSON) { kvSet(key: $k, value: $v, ttlMs: 60000)"
        " { key value expiresAt } }",
        {"k": key, "v": {"nested": ["x", 1]}},
    )
    assert set_["data"]["kvSet"]["key"] == key
    assert set_["data"]["kvSet"]["value"] == {"nested": ["x", 1]}
    assert set_["data"]["kvSet"]["expiresAt"].endswith("Z")
    got = gql(stack, "query($k: String!) { kvGet(key: $k) { key value } }", {"k": key})
    assert got["data"]["kvGet"] == {"key": key, "value": {"nested": ["x", 1]}}
    missing = gql(stack, "query($k: String!) { kvGet(key: $k) { key } }", {"k": prefix + "no"})
    assert missing["data"]["kvGet"] is None
    inc = gql(stack, "mutation($k: String!) { kvIncrement(key: $k, by: 5) }", {"k": prefix + "c"})
    assert inc["data"]["kvIncrement"] == 5
    # A null `by`, as generated clients send an unset variable, is the default, 1.
    inc = gql(
        stack,
        "mutation($k: String!, $by: BigInt) { kvIncrement(key: $k, by: $by) }",
        {"k": prefix + "c", "by": None},
    )
    assert inc["data"]["kvIncrement"] == 6
    deleted = gql(stack, "mutation($k: String!) { kvDelete(key: $k) }", {"k": prefix + "c"})
    assert deleted["data"]["kvDelete"] is True
    bad = gql(stack, 'mutation { kvSet(key: "", value: 1) { key } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    bad_ttl = gql(stack, 'mutation { kvSet(key: "k", value: 1, ttlMs: -1) { key } }')
    assert bad_ttl["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # REST sees what GraphQL wrote.
    rest = httpx.get(stack.rest_url + url(key), headers=stack.headers()).json()
    assert rest["data"]["value"] == {"nested": ["x", 1]}


def test_graphql_sdl_lists_kv_fields(stack: Stack) -> None:
    sdl = httpx.get(stack.graphql_url + "/graphql/schema.graphql", headers=stack.headers()).text
    assert "kvGet(key: String!): KvEntry" in sdl
    assert "kvSet(key: String!, value: JSON, ttlMs: BigInt): KvEntry!" in sdl


# --- expiry sweep ----------------------------------------------------------------


def test_sweep_deletes_expired_rows(stack: Stack, grpc_client: Client, prefix: str) -> None:
    grpc_client.kv_set(prefix + "gone", 1, ttl_ms=1)
    grpc_client.kv_set(prefix + "kept", 1, ttl_ms=600_000)
    time.sleep(0.05)

    async def sweep() -> int:
        async with await psycopg.AsyncConnection.connect(
            stack.database_url(), autocommit=True
        ) as conn:
            return await sweep_expired(conn, batch=2)

    assert asyncio.run(sweep()) >= 1
    with psycopg.connect(stack.database_url()) as conn:
        rows = conn.execute(
            "SELECT key FROM plinth.kv WHERE key LIKE %s ORDER BY key", [prefix + "%"]
        ).fetchall()
    assert rows == [(prefix + "kept",)]


# --- cache coherence -------------------------------------------------------------


def _coherence(stack: Stack, prefix: str, iterations: int = 150, **env: str) -> None:
    """Writes through one core, reads through another right after each acknowledgement:
    never the value from before the write."""
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    names = [f"kv-core-{uuid.uuid4().hex[:6]}" for _ in addrs]
    processes = [
        stack.start_core(name, addr=addr, **env) for name, addr in zip(names, addrs, strict=True)
    ]
    try:

        async def run() -> None:
            async with (
                AsyncClient(addrs[0], api_key=stack.admin_key) as a,
                AsyncClient(addrs[1], api_key=stack.admin_key) as b,
            ):
                keys = [prefix + f"k{n}" for n in range(5)]
                for i in range(iterations):
                    key = keys[i % len(keys)]
                    writer, reader = (a, b) if i % 2 else (b, a)
                    await reader.kv_get(key)  # cached in the reader before the write
                    await writer.kv_set(key, i)
                    assert await reader.kv_get(key) == i, f"stale read at iteration {i}"
                    assert await reader.kv_get(key) == i
                    if i % 5 == 0:
                        assert await writer.kv_incr(key) == i + 1
                        assert await reader.kv_get(key) == i + 1
                    if i % 7 == 0:
                        await writer.kv_delete(key)
                        assert await reader.kv_get(key, "gone") == "gone"
                # Many readers racing many writers on one key: every read after an
                # acknowledged write sees it or something newer.
                hot = prefix + "hot"
                await a.kv_set(hot, 0)

                async def write_then_read(n: int) -> None:
                    writer, reader = (a, b) if n % 2 else (b, a)
                    written = await writer.kv_incr(hot)
                    assert await reader.kv_get(hot) >= written

                async def background_reads() -> None:
                    for _ in range(200):
                        await asyncio.gather(a.kv_get(hot), b.kv_get(hot))

                await asyncio.gather(background_reads(), *(write_then_read(n) for n in range(200)))
                assert await a.kv_get(hot) == await b.kv_get(hot) == 200

        asyncio.run(run())
    finally:
        for process in processes:
            process.stop()
            assert INTERNAL_MARK not in process.output()


def test_cache_coherent_across_processes_in_memory(stack: Stack, prefix: str) -> None:
    _coherence(stack, prefix)


@needs_redis
def test_cache_coherent_across_processes_with_redis(stack: Stack, prefix: str) -> None:
    _coherence(stack, prefix, PLINTH_REDIS_URL=REDIS_URL)


# --- the fill race, deterministically (KvCache on the real database and cache) ------


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=needs_redis)])
def test_a_read_racing_a_write_never_caches_the_old_value(
    stack: Stack, prefix: str, backend: str
) -> None:
    """A read loads the old value; a write commits and invalidates before the read stores
    it. The stale value must not be cached."""
    key = prefix + "race"
    space = space_id(stack)

    async def run() -> None:
        pool = AsyncConnectionPool(stack.database_url(), min_size=1, max_size=4, open=False)
        await pool.open()
        cache = KvCache(pool, REDIS_URL if backend == "redis" else None, ttl=60)
        listener = asyncio.create_task(cache.listen(stack.database_url()))
        try:
            if backend == "memory":
                await asyncio.wait_for(_until(lambda: cache._listening), 10)
            values = {"now": "1"}

            async def load(keys):
                return {k: (values["now"], None) for k in keys}

            async def racing_load(keys):
                old = values["now"]
                values["now"] = "2"  # the write commits…
                await cache.written(space, [key])  # …and invalidates, before the read stores
                return {k: (old, None) for k in keys}

            assert await cache.read(space, [key], racing_load) == {key: ("1", None)}
            # The next read must reach the database (the stale "1" was not stored).
            assert await cache.read(space, [key], load) == {key: ("2", None)}
            values["now"] = "3"
            assert await cache.read(space, [key], load) == {key: ("2", None)}  # now cached…
            await cache.written(space, [key])
            assert await cache.read(space, [key], load) == {key: ("3", None)}  # …until a write
        finally:
            listener.cancel()
            await cache.close()
            await pool.close()

    asyncio.run(run())


async def _until(check) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def test_unreachable_redis_reads_fall_back_and_writes_say_unavailable(
    stack: Stack, prefix: str
) -> None:
    """Core with a Redis URL nobody listens on: reads still work (from the database);
    a write is saved but answered UNAVAILABLE (the cache could not be cleared), never
    INTERNAL."""
    addr = f"127.0.0.1:{free_port()}"
    name = f"kv-no-redis-{uuid.uuid4().hex[:6]}"
    process = stack.start_core(
        name, addr=addr, PLINTH_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    try:
        with (
            Client(addr, api_key=stack.admin_key) as broken,
            Client(stack.core_addr, api_key=stack.admin_key) as healthy,
        ):
            healthy.kv_set(prefix + "k", "stored")
            assert broken.kv_get(prefix + "k") == "stored"
            with pytest.raises(PlinthError) as caught:
                broken.kv_set(prefix + "k", "new")
            assert caught.value.code == "UNAVAILABLE"
            assert healthy.kv_get(prefix + "k") == "new"
    finally:
        process.stop()
        assert INTERNAL_MARK not in process.output()


def test_entries_belong_to_the_callers_space(stack: Stack, prefix: str) -> None:
    """A key of another project's space: the same key names are different entries."""
    other_key = stack.other_space_key()
    with (
        Client(stack.core_addr, api_key=stack.admin_key) as mine,
        Client(stack.core_addr, api_key=other_key) as theirs,
    ):
        mine.kv_set(prefix + "shared-name", "mine")
        assert theirs.kv_get(prefix + "shared-name") is None
        assert theirs.kv_list(prefix) == {}
        theirs.kv_set(prefix + "shared-name", "theirs")
        assert theirs.kv_incr(prefix + "n") == 1
        assert mine.kv_get(prefix + "shared-name") == "mine"
        assert mine.kv_get(prefix + "n") is None
        assert theirs.kv_delete(prefix + "shared-name") is True
        assert mine.kv_get(prefix + "shared-name") == "mine"
