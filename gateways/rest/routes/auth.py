"""/api/v1/auth: login, refresh, logout, me, and the admin's users and API keys.

`auth` is therefore not reachable as a collection name under /api/v1.
"""

from __future__ import annotations

from plinth.auth import key_to_dict, me_to_dict, tokens_to_dict, user_to_dict
from plinth.v1 import auth_service_pb2 as pb
from sanic import Blueprint, HTTPResponse, Request

from gateways.core_client import call
from gateways.rest import render
from gateways.rest.body import json_object, text_member

bp = Blueprint("auth", url_prefix="/api/v1/auth")


def _fields(request: Request, *names: str) -> dict[str, str]:
    body = json_object(request, names)
    return {name: text_member(body, name) for name in names}


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    message = pb.LoginRequest(**_fields(request, "email", "password", "project"))
    return render.value(tokens_to_dict((await call(request, "auth", "Login", message)).tokens))


@bp.post("/refresh")
async def refresh(request: Request) -> HTTPResponse:
    message = pb.RefreshTokenRequest(**_fields(request, "refresh_token"))
    return render.value(
        tokens_to_dict((await call(request, "auth", "RefreshToken", message)).tokens)
    )


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    message = pb.LogoutRequest(**_fields(request, "refresh_token"))
    answer = await call(request, "auth", "Logout", message)
    return render.value({"revoked": answer.revoked})


@bp.get("/me")
async def me(request: Request) -> HTTPResponse:
    return render.value(me_to_dict(await call(request, "auth", "GetMe", pb.GetMeRequest())))


@bp.post("/users")
async def create_user(request: Request) -> HTTPResponse:
    message = pb.CreateUserRequest(**_fields(request, "email", "password", "role"))
    answer = await call(request, "auth", "CreateUser", message)
    return render.value(user_to_dict(answer.user), status=201)


@bp.get("/users")
async def list_users(request: Request) -> HTTPResponse:
    answer = await call(request, "auth", "ListUsers", pb.ListUsersRequest())
    return render.value([user_to_dict(user) for user in answer.users])


@bp.patch("/users/<user_id>")
async def update_user(request: Request, user_id: str) -> HTTPResponse:
    message = pb.UpdateUserRequest(id=user_id, **_fields(request, "email", "password", "role"))
    return render.value(user_to_dict((await call(request, "auth", "UpdateUser", message)).user))


@bp.delete("/users/<user_id>")
async def delete_user(request: Request, user_id: str) -> HTTPResponse:
    await call(request, "auth", "DeleteUser", pb.DeleteUserRequest(id=user_id))
    return render.value({"id": user_id, "deleted": True})


@bp.post("/keys")
async def create_key(request: Request) -> HTTPResponse:
    message = pb.CreateApiKeyRequest(**_fields(request, "name", "role", "space"))
    answer = await call(request, "auth", "CreateApiKey", message)
    return render.value({**key_to_dict(answer.api_key), "key": answer.secret}, status=201)


@bp.get("/keys")
async def list_keys(request: Request) -> HTTPResponse:
    answer = await call(request, "auth", "ListApiKeys", pb.ListApiKeysRequest())
    return render.value([key_to_dict(key) for key in answer.api_keys])


@bp.delete("/keys/<key_id>")
async def revoke_key(request: Request, key_id: str) -> HTTPResponse:
    answer = await call(request, "auth", "RevokeApiKey", pb.RevokeApiKeyRequest(id=key_id))
    return render.value(key_to_dict(answer.api_key))
