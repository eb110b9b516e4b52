"""Passwords: argon2id through argon2-cffi, hashed off the event loop.

A login for an unknown email verifies against a dummy hash, so it costs what a
wrong password costs and the answer time tells nothing about which emails exist.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import Code, CoreError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # hashing cost must not be the caller's to choose

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("no such user: the same work as a wrong password")


def check_strength(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise CoreError(Code.BAD_REQUEST, f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters")


async def hash_password(password: str) -> str:
    check_strength(password)
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        _hasher.verify(stored or _DUMMY, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; None (no such user) costs the same and is False."""
    return await asyncio.to_thread(_verify, stored, password)
