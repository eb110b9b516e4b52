"""AuthService: login, token refresh and logout, `me`, and the admin's users and keys."""

from __future__ import annotations

import psycopg
from plinth.v1 import auth_service_pb2 as pb
from plinth.v1 import auth_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth import passwords, sessions, store, tokens
from core.auth.keys import generate_key, hash_key
from core.auth.principal import current, require_admin
from core.errors import Code, CoreError, bad_request, conflict

DEFAULT_PROJECT = "default"
LOGIN_REFUSED = "wrong email or password"  # one answer, whether or not the email exists


def _user(row) -> pb.User:
    user = pb.User(id=row[0], email=row[1], role=row[2])
    user.created_at.FromDatetime(row[3])
    user.updated_at.FromDatetime(row[4])
    return user


def _key(row) -> pb.ApiKey:
    key = pb.ApiKey(id=row[0], name=row[1], role=row[2], space=row[3])
    key.created_at.FromDatetime(row[4])
    if row[5] is not None:
        key.last_used_at.FromDatetime(row[5])
    if row[6] is not None:
        key.revoked_at.FromDatetime(row[6])
    return key


class AuthServicer(rpc.AuthServiceServicer):
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        pepper: bytes,
        token_key: bytes,
        access_seconds: int,
        refresh_seconds: float,
    ) -> None:
        self._pool = pool
        self._pepper = pepper
        self._token_key = token_key
        self._access_seconds = access_seconds
        self._refresh_seconds = refresh_seconds

    async def _pair(self, conn, user_id: str, project_id: str, family: str | None) -> pb.TokenPair:
        refresh = await sessions.issue(conn, self._pepper, user_id, self._refresh_seconds, family)
        access = tokens.issue(self._token_key, user_id, project_id, self._access_seconds)
        return pb.TokenPair(
            access_token=access,
            refresh_token=refresh,
            token_type="Bearer",
            expires_in=self._access_seconds,
        )

    async def Login(self, request: pb.LoginRequest, context) -> pb.LoginResponse:
        async with self._pool.connection() as conn:
            project_id = await store.project_id_by_name(conn, request.project or DEFAULT_PROJECT)
            row = None
            if project_id is not None and request.email:
                row = await store.user_for_login(conn, project_id, request.email)
        # The hash is checked (against a dummy when there is no such user) in every case.
        if not await passwords.verify_password(row[1] if row else None, request.password):
            raise CoreError(Code.UNAUTHENTICATED, LOGIN_REFUSED)
        async with self._pool.connection() as conn, conn.transaction():
            pair = await self._pair(conn, row[0], project_id, None)
        return pb.LoginResponse(tokens=pair)

    async def RefreshToken(self, request, context) -> pb.RefreshTokenResponse:
        async with self._pool.connection() as conn:
            async with conn.transaction():
                spent = await sessions.spend(conn, self._pepper, request.refresh_token)
                if spent is not None:
                    user_id, family = spent
                    cur = await conn.execute(
                        "SELECT project_id FROM plinth.users WHERE id = %s", [user_id]
                    )
                    (project_id,) = await cur.fetchone()
                    pair = await self._pair(conn, user_id, project_id, family)
            # Raised after the commit: a reuse's family revocation must stay written.
            if spent is None:
                raise sessions.refused()
        return pb.RefreshTokenResponse(tokens=pair)

    async def Logout(self, request: pb.LogoutRequest, context) -> pb.LogoutResponse:
        principal = current()
        if principal.user_id is None:
            raise bad_request("logout ends a user's session; an API key is revoked instead")
        async with self._pool.connection() as conn, conn.transaction():
            revoked = await sessions.revoke_for_user(
                conn, self._pepper, principal.user_id, request.refresh_token
            )
        return pb.LogoutResponse(revoked=revoked)

    async def GetMe(self, request, context) -> pb.GetMeResponse:
        principal = current()
        async with self._pool.connection() as conn:
            space = await store.space_name(conn, principal.space_id)
            answer = pb.GetMeResponse(kind=principal.kind, role=principal.role, space=space)
            if principal.user_id:
                row = await store.user(conn, principal.project_id, principal.user_id)
                answer.user.CopyFrom(_user(row))
            else:
                row = await store.key(conn, principal.project_id, principal.key_id)
                answer.api_key.CopyFrom(_key(row))
        return answer

    async def CreateUser(self, request: pb.CreateUserRequest, context) -> pb.CreateUserResponse:
        principal = require_admin("auth.users")
        email = store.check_email(request.email)
        role = store.check_role(request.role)
        password_hash = await passwords.hash_password(request.password)
        async with self._pool.connection() as conn:
            try:
                row = await store.insert_user(
                    conn, principal.project_id, email, password_hash, role
                )
            except psycopg.errors.UniqueViolation:
                raise conflict(f"a user with email {email!r} exists") from None
        return pb.CreateUserResponse(user=_user(row))

    async def ListUsers(self, request, context) -> pb.ListUsersResponse:
        principal = require_admin("auth.users")
        async with self._pool.connection() as conn:
            rows = await store.users(conn, principal.project_id)
        return pb.ListUsersResponse(users=[_user(row) for row in rows])

    async def UpdateUser(self, request: pb.UpdateUserRequest, context) -> pb.UpdateUserResponse:
        principal = require_admin("auth.users")
        changes: dict[str, str] = {}
        if request.email:
            changes["email"] = store.check_email(request.email)
        if request.role:
            changes["role"] = store.check_role(request.role)
        if request.password:
            changes["password_hash"] = await passwords.hash_password(request.password)
        async with self._pool.connection() as conn, conn.transaction():
            if not changes:
                row = await store.user(conn, principal.project_id, request.id)
                return pb.UpdateUserResponse(user=_user(row))
            try:
                row = await store.update_user(conn, principal.project_id, request.id, changes)
            except psycopg.errors.UniqueViolation:
                raise conflict(f"a user with email {request.email!r} exists") from None
            if "password_hash" in changes:
                await sessions.revoke_for_user(conn, self._pepper, request.id, "")
            await store.announce(conn)
        return pb.UpdateUserResponse(user=_user(row))

    async def DeleteUser(self, request: pb.DeleteUserRequest, context) -> pb.DeleteUserResponse:
        principal = require_admin("auth.users")
        async with self._pool.connection() as conn, conn.transaction():
            await store.delete_user(conn, principal.project_id, request.id)
            await store.announce(conn)
        return pb.DeleteUserResponse(id=request.id)

    async def CreateApiKey(self, request, context) -> pb.CreateApiKeyResponse:
        principal = require_admin("auth.keys")
        name = request.name.strip()
        if not name or len(name) > store.MAX_KEY_NAME:
            raise bad_request(f"an API key needs a name of 1 to {store.MAX_KEY_NAME} characters")
        role = store.check_role(request.role)
        secret = generate_key()
        async with self._pool.connection() as conn, conn.transaction():
            space_id = principal.space_id
            if request.space:
                space_id = await store.space_by_name(conn, principal.project_id, request.space)
            row = await store.insert_key(
                conn, principal.project_id, space_id, name, role, hash_key(secret, self._pepper)
            )
        return pb.CreateApiKeyResponse(api_key=_key(row), secret=secret)

    async def ListApiKeys(self, request, context) -> pb.ListApiKeysResponse:
        principal = require_admin("auth.keys")
        async with self._pool.connection() as conn:
            rows = await store.keys(conn, principal.project_id)
        return pb.ListApiKeysResponse(api_keys=[_key(row) for row in rows])

    async def RevokeApiKey(self, request, context) -> pb.RevokeApiKeyResponse:
        principal = require_admin("auth.keys")
        async with self._pool.connection() as conn, conn.transaction():
            row = await store.revoke_key(conn, principal.project_id, request.id)
            await store.announce(conn)
        return pb.RevokeApiKeyResponse(api_key=_key(row))
