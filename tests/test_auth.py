"""Identity: users, login and refresh tokens, API keys, through REST and gRPC."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from plinth import Client, PlinthError

from core.auth.secret import load_secret, subkey
from launcher.processes import free_port
from tests.conftest import Stack

PASSWORD = "correct horse battery"


def _email() -> str:
    return f"u_{uuid.uuid4().hex[:10]}@example.com"


def _user(rest: httpx.Client, role: str = "viewer") -> tuple[str, str]:
    email = _email()
    answer = rest.post(
        "/api/v1/auth/users", json={"email": email, "password": PASSWORD, "role": role}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]["id"], email


def _login(stack: Stack, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{stack.rest_url}/api/v1/auth/login", json={"email": email, "password": password}
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(answer: httpx.Response) -> dict:
    return answer.json()["error"]


def test_login_me_and_the_same_refusal_for_unknown_and_wrong(stack: Stack, rest: httpx.Client):
    user_id, email = _user(rest)
    answer = _login(stack, email.upper())  # emails compare without case
    assert answer.status_code == 200, answer.text
    tokens = answer.json()["data"]
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    me = httpx.get(f"{stack.rest_url}/api/v1/auth/me", headers=_bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    body = me.json()["data"]
    assert body["kind"] == "user" and body["role"] == "viewer" and body["space"] == "dev"
    assert body["user"]["id"] == user_id and body["user"]["email"] == email

    wrong = _login(stack, email, "not the password")
    unknown = _login(stack, _email())
    assert wrong.status_code == unknown.status_code == 401
    assert _error(wrong)["code"] == _error(unknown)["code"] == "UNAUTHENTICATED"
    assert _error(wrong)["message"] == _error(unknown)["message"]


def test_refresh_rotates_and_reuse_revokes_the_family(stack: Stack, rest: httpx.Client):
    _, email = _user(rest)
    first = _login(stack, email).json()["data"]["refresh_token"]
    url = f"{stack.rest_url}/api/v1/auth/refresh"
    rotated = httpx.post(url, json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["data"]["refresh_token"]
    assert second != first
    reused = httpx.post(url, json={"refresh_token": first})
    assert reused.status_code == 401 and _error(reused)["code"] == "UNAUTHENTICATED"
    # The reuse ended the whole family: the token issued in the rotation is dead too.
    assert httpx.post(url, json={"refresh_token": second}).status_code == 401
    assert httpx.post(url, json={"refresh_token": "plr_nonsense"}).status_code == 401


def test_logout_revokes_the_session(stack: Stack, rest: httpx.Client):
    _, email = _user(rest)
    tokens = _login(stack, email).json()["data"]
    other = _login(stack, email).json()["data"]  # a second session stays
    answer = httpx.post(
        f"{stack.rest_url}/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=_bearer(tokens["access_token"]),
    )
    assert answer.status_code == 200 and answer.json()["data"] == {"revoked": 1}
    url = f"{stack.rest_url}/api/v1/auth/refresh"
    assert httpx.post(url, json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert httpx.post(url, json={"refresh_token": other["refresh_token"]}).status_code == 200
    # An API key has no session to end.
    assert rest.post("/api/v1/auth/logout").status_code == 400


def _forge(claims: dict, key: bytes, alg: str = "HS256") -> str:
    if alg == "none":

        def part(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    return jwt.encode(claims, key, algorithm=alg)


def test_bad_tokens_are_401(stack: Stack, rest: httpx.Client):
    _, email = _user(rest)
    good = jwt.decode(
        _login(stack, email).json()["data"]["access_token"], options={"verify_signature": False}
    )
    key = subkey(load_secret(stack.data_dir, None), "access-token")
    now = int(time.time())
    tokens = {
        "expired": _forge({**good, "iat": now - 100, "exp": now - 10}, key),
        "wrongly signed": _forge(good, b"another secret of enough length, 32+"),
        "alg none": _forge(good, key, "none"),
        "malformed": "not.a.token",
        "no expiry": _forge({k: v for k, v in good.items() if k != "exp"}, key),
        "other algorithm": _forge(good, key * 2, "HS512"),
    }
    for what, token in tokens.items():
        answer = httpx.get(f"{stack.rest_url}/api/v1/auth/me", headers=_bearer(token))
        assert answer.status_code == 401, what
        assert _error(answer)["code"] == "UNAUTHENTICATED", what
    # The good claims signed with the right key work, so the refusals are for the reasons named.
    answer = httpx.get(f"{stack.rest_url}/api/v1/auth/me", headers=_bearer(_forge(good, key)))
    assert answer.status_code == 200, answer.text


def test_deleted_user_is_401_at_once(stack: Stack, rest: httpx.Client):
    user_id, email = _user(rest)
    access = _login(stack, email).json()["data"]["access_token"]
    url = f"{stack.rest_url}/api/v1/auth/me"
    assert httpx.get(url, headers=_bearer(access)).status_code == 200
    assert rest.delete(f"/api/v1/auth/users/{user_id}").status_code == 200
    assert httpx.get(url, headers=_bearer(access)).status_code == 401
    assert rest.delete(f"/api/v1/auth/users/{user_id}").status_code == 404


def test_user_management(stack: Stack, rest: httpx.Client):
    user_id, email = _user(rest)
    duplicate = rest.post(
        "/api/v1/auth/users", json={"email": email, "password": PASSWORD, "role": "viewer"}
    )
    assert duplicate.status_code == 409
    for body in (
        {"email": "nope", "password": PASSWORD, "role": "viewer"},
        {"email": _email(), "password": "short", "role": "viewer"},
        {"email": _email(), "password": PASSWORD, "role": "Not A Role"},
        {"email": 5, "password": PASSWORD, "role": "viewer"},
    ):
        answer = rest.post("/api/v1/auth/users", json=body)
        assert answer.status_code == 400 and _error(answer)["code"] == "BAD_REQUEST", body
    listed = rest.get("/api/v1/auth/users").json()["data"]
    assert user_id in [u["id"] for u in listed]
    assert all("password" not in json.dumps(u) for u in listed)
    changed = rest.patch(f"/api/v1/auth/users/{user_id}", json={"role": "editor"})
    assert changed.status_code == 200 and changed.json()["data"]["role"] == "editor"
    # A new password ends the sessions of the old one.
    refresh = _login(stack, email).json()["data"]["refresh_token"]
    rest.patch(f"/api/v1/auth/users/{user_id}", json={"password": "a new long password"})
    assert _login(stack, email).status_code == 401
    assert _login(stack, email, "a new long password").status_code == 200
    answer = httpx.post(f"{stack.rest_url}/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert answer.status_code == 401
    assert rest.patch("/api/v1/auth/users/nobody", json={"role": "x"}).status_code == 404


def test_api_keys_shown_once_listed_without_secret(stack: Stack, rest: httpx.Client):
    created = rest.post("/api/v1/auth/keys", json={"name": "ci", "role": "viewer", "space": "dev"})
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    assert key["key"].startswith("plk_") and key["space"] == "dev" and key["role"] == "viewer"
    listed = rest.get("/api/v1/auth/keys")
    assert key["key"] not in listed.text
    (row,) = [k for k in listed.json()["data"] if k["id"] == key["id"]]
    assert row["name"] == "ci" and row["revoked_at"] is None and "key" not in row
    # The first boot's admin key is an ordinary admin-role key in the list.
    assert any(k["role"] == "admin" and k["revoked_at"] is None for k in listed.json()["data"])
    me = httpx.get(f"{stack.rest_url}/api/v1/auth/me", headers=_bearer(key["key"]))
    assert me.json()["data"]["api_key"]["id"] == key["id"]
    assert (
        rest.post(
            "/api/v1/auth/keys", json={"name": "x", "role": "viewer", "space": "nope"}
        ).status_code
        == 404
    )
    assert rest.post("/api/v1/auth/keys", json={"role": "viewer"}).status_code == 400


def test_without_permissions_a_role_gets_403_with_the_permission(stack: Stack, rest: httpx.Client):
    key = rest.post("/api/v1/auth/keys", json={"name": "ro", "role": "viewer"}).json()["data"]
    for method, path in (("GET", "/api/v1/auth/keys"), ("GET", "/api/v1/schema/collections")):
        answer = httpx.request(method, f"{stack.rest_url}{path}", headers=_bearer(key["key"]))
        assert answer.status_code == 403, path
        error = _error(answer)
        assert error["code"] == "FORBIDDEN" and error["details"][0]["permission"]


def test_revocation_is_seen_by_another_core_process(stack: Stack, rest: httpx.Client):
    key = rest.post("/api/v1/auth/keys", json={"name": "soon gone", "role": "admin"}).json()["data"]
    addr = f"127.0.0.1:{free_port()}"
    process = stack.start_core("core-auth", addr=addr)
    try:
        with Client(addr, api_key=key["key"]) as other:
            assert other.me()["api_key"]["id"] == key["id"]  # now cached there
            assert rest.delete(f"/api/v1/auth/keys/{key['id']}").status_code == 200
            deadline = time.monotonic() + 2  # a NOTIFY's way to the other process
            while True:
                try:
                    other.me()
                except PlinthError as error:
                    assert error.code == "UNAUTHENTICATED"
                    break
                assert time.monotonic() < deadline, "the other process still accepts the key"
                time.sleep(0.02)
        with Client(stack.core_addr, api_key=key["key"]) as here, pytest.raises(PlinthError):
            here.me()
    finally:
        process.stop()  # a stopping core writes the keys' last use it holds
    (row,) = [k for k in rest.get("/api/v1/auth/keys").json()["data"] if k["id"] == key["id"]]
    assert row["revoked_at"] is not None and row["last_used_at"] is not None


def test_grpc_login_and_keys(stack: Stack, grpc_client: Client):
    email = _email()
    user = grpc_client.create_user(email, PASSWORD, "viewer")
    with Client(stack.core_addr) as anonymous:
        tokens = anonymous.login(email, PASSWORD)
        with pytest.raises(PlinthError) as refused:
            anonymous.login(email, "wrong password!")
        assert refused.value.code == "UNAUTHENTICATED"
        with pytest.raises(PlinthError) as missing:
            anonymous.me()
        assert missing.value.code == "UNAUTHENTICATED"
    with Client(stack.core_addr, api_key=tokens["access_token"]) as as_user:
        assert as_user.me()["user"]["id"] == user["id"]
        with pytest.raises(PlinthError) as denied:
            as_user.list_api_keys()
        assert denied.value.code == "FORBIDDEN" and denied.value.details
    key = grpc_client.create_api_key("grpc", "viewer")
    assert key["id"] in [k["id"] for k in grpc_client.list_api_keys()]
    assert grpc_client.revoke_api_key(key["id"])["revoked_at"]
    with Client(stack.core_addr, api_key=key["key"]) as revoked, pytest.raises(PlinthError) as gone:
        revoked.me()
    assert gone.value.code == "UNAUTHENTICATED"
