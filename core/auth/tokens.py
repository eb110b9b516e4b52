"""Access tokens: short-lived HS256 JWTs naming the user and project.

Only HS256 is accepted when decoding, so `alg: none` and tokens signed with
another algorithm are refused; `exp` is required.
"""

from __future__ import annotations

import time

import jwt

from core.errors import Code, CoreError

ALGORITHM = "HS256"
ISSUER = "plinth"


def issue(key: bytes, user_id: str, project_id: str, lifetime: int) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "pid": project_id, "iss": ISSUER, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str) -> tuple[str, str]:
    """(user id, project id) of a valid token; anything else is UNAUTHENTICATED."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise CoreError(Code.UNAUTHENTICATED, "the access token has expired") from None
    except jwt.InvalidTokenError:
        raise CoreError(Code.UNAUTHENTICATED, "invalid access token") from None
    user_id, project_id = claims.get("sub"), claims.get("pid")
    if not isinstance(user_id, str) or not isinstance(project_id, str):
        raise CoreError(Code.UNAUTHENTICATED, "invalid access token")
    return user_id, project_id
