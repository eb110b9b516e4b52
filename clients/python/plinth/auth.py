"""The AuthService calls of AsyncClient: sessions, users and API keys, as dicts.

A user's access token is used like an API key: `AsyncClient(addr, api_key=token)`.
"""

from __future__ import annotations

from typing import Any

from plinth.v1 import auth_service_pb2 as pb


def _time(message, name: str) -> str | None:
    return getattr(message, name).ToJsonString() if message.HasField(name) else None


def tokens_to_dict(pair: pb.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }


def user_to_dict(user: pb.User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "created_at": _time(user, "created_at"),
        "updated_at": _time(user, "updated_at"),
    }


def key_to_dict(key: pb.ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "space": key.space,
        "created_at": _time(key, "created_at"),
        "last_used_at": _time(key, "last_used_at"),
        "revoked_at": _time(key, "revoked_at"),
    }


def me_to_dict(me: pb.GetMeResponse) -> dict[str, Any]:
    answer: dict[str, Any] = {"kind": me.kind, "role": me.role, "space": me.space}
    if me.HasField("user"):
        answer["user"] = user_to_dict(me.user)
    if me.HasField("api_key"):
        answer["api_key"] = key_to_dict(me.api_key)
    return answer


class AuthCalls:
    """Mixed into AsyncClient, which provides `call` and the `auth` stub."""

    async def login(self, email: str, password: str, *, project: str = "") -> dict[str, Any]:
        """{"access_token", "refresh_token", "token_type", "expires_in"}."""
        request = pb.LoginRequest(email=email, password=password, project=project)
        return tokens_to_dict((await self.call(self.auth.Login, request)).tokens)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        request = pb.RefreshTokenRequest(refresh_token=refresh_token)
        return tokens_to_dict((await self.call(self.auth.RefreshToken, request)).tokens)

    async def logout(self, refresh_token: str = "") -> int:
        request = pb.LogoutRequest(refresh_token=refresh_token)
        return (await self.call(self.auth.Logout, request)).revoked

    async def me(self) -> dict[str, Any]:
        return me_to_dict(await self.call(self.auth.GetMe, pb.GetMeRequest()))

    async def create_user(self, email: str, password: str, role: str) -> dict[str, Any]:
        request = pb.CreateUserRequest(email=email, password=password, role=role)
        return user_to_dict((await self.call(self.auth.CreateUser, request)).user)

    async def list_users(self) -> list[dict[str, Any]]:
        answer = await self.call(self.auth.ListUsers, pb.ListUsersRequest())
        return [user_to_dict(user) for user in answer.users]

    async def update_user(
        self, user_id: str, *, email: str = "", password: str = "", role: str = ""
    ) -> dict[str, Any]:
        request = pb.UpdateUserRequest(id=user_id, email=email, password=password, role=role)
        return user_to_dict((await self.call(self.auth.UpdateUser, request)).user)

    async def delete_user(self, user_id: str) -> None:
        await self.call(self.auth.DeleteUser, pb.DeleteUserRequest(id=user_id))

    async def create_api_key(self, name: str, role: str, space: str = "") -> dict[str, Any]:
        """The key's description plus "key": the key itself, shown this once."""
        request = pb.CreateApiKeyRequest(name=name, role=role, space=space)
        answer = await self.call(self.auth.CreateApiKey, request)
        return {**key_to_dict(answer.api_key), "key": answer.secret}

    async def list_api_keys(self) -> list[dict[str, Any]]:
        answer = await self.call(self.auth.ListApiKeys, pb.ListApiKeysRequest())
        return [key_to_dict(key) for key in answer.api_keys]

    async def revoke_api_key(self, key_id: str) -> dict[str, Any]:
        request = pb.RevokeApiKeyRequest(id=key_id)
        return key_to_dict((await self.call(self.auth.RevokeApiKey, request)).api_key)
