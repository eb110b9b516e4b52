"""API keys (`plk_<random>`) and refresh tokens: shown once, stored as a keyed hash.

They carry 256 random bits, so a fast keyed hash (HMAC-SHA256) is right: there is
nothing to brute-force, unlike passwords, and a copy of the table alone is not
enough to check a guess. Keys from before keyed hashing are plain SHA-256
(`legacy_hash`) until their first use re-hashes them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "plk_"
REFRESH_PREFIX = "plr_"


def generate_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def generate_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, pepper: bytes) -> bytes:
    return hmac.new(pepper, key.encode(), hashlib.sha256).digest()


def legacy_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
