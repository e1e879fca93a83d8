"""Keyed digests for matching encrypted values without decrypting them.

An encrypted column cannot be searched; its HMAC-SHA256 digest beside it can. The key
(``LOOKUP_HASH_KEY``) is separate from the data, so a copy of the table alone does not let
anyone test guesses of a mobile or an ID number against it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings


def lookup_digest(value: str, *, purpose: str) -> str:
    message = f"{purpose}:{value}".encode()
    return hmac.new(settings.LOOKUP_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """Tokens have 256 bits of entropy, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)
