"""Who is calling: resolved once per request by the interceptor."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from core.errors import Code, CoreError

ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    key_id: str | None  # the API key, or None for a user's access token
    project_id: str
    space_id: str
    role: str
    user_id: str | None = None  # the user of an access token

    @property
    def kind(self) -> str:
        return "user" if self.user_id else "api_key"


_current: ContextVar[Principal] = ContextVar("plinth_principal")


def set_principal(principal: Principal) -> None:
    _current.set(principal)


def current() -> Principal:
    return _current.get()


def require_admin(action: str) -> Principal:
    principal = current()
    if principal.role != ADMIN:
        raise CoreError(Code.FORBIDDEN, f"{action} needs the admin role", permission=action)
    return principal
