"""API keys: `plk_<random>`, shown once, stored as a SHA-256 hash.

The keys carry 256 random bits, so a fast hash is enough: there is nothing
to brute-force, unlike passwords.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "plk_"


def generate_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
