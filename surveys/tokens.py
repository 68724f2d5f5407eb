"""Invitation tokens: 256 random bits shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def token_generate() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    # A fast hash is right here: the token carries 256 bits of entropy, so there is nothing to
    # brute-force, and lookups by hash stay constant-time in the database index.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
