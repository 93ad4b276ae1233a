"""Operator credentials, browser session cookies and CSRF tokens.

A credential is a random token shown once; the database keeps only a lookup key (a truncated hash,
indexed, so finding the row is one query) and a salted HMAC-SHA256 digest compared in constant time.
Session cookies and CSRF tokens are signed with the session secret (itsdangerous).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, TimestampSigner

CREDENTIAL_PREFIX = "ctk_"
SESSION_COOKIE = "countertop_session"
SESSION_MAX_AGE_SECONDS = 12 * 60 * 60
_LOOKUP_CONTEXT = b"countertop operator credential lookup\x00"


def new_credential() -> str:
    """A fresh credential: 256 random bits, URL-safe, recognisable by its prefix."""
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(32)


def new_session_secret() -> str:
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def lookup_key(credential: str) -> str:
    """The indexed key a credential is found by (64 bits of a hash; not enough to verify it)."""
    return hashlib.sha256(_LOOKUP_CONTEXT + credential.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CredentialHash:
    lookup: str
    salt: str
    digest: str


def hash_credential(credential: str) -> CredentialHash:
    salt = secrets.token_hex(16)
    return CredentialHash(lookup_key(credential), salt, _digest(salt, credential))


def verify_credential(credential: str, salt: str, digest: str) -> bool:
    return hmac.compare_digest(_digest(salt, credential), digest)


def _digest(salt: str, credential: str) -> str:
    return hmac.new(bytes.fromhex(salt), credential.encode(), hashlib.sha256).hexdigest()


class SessionSigner:
    """Signs session ids into cookie values and derives CSRF tokens bound to a session."""

    def __init__(self, secret: str) -> None:
        self._cookie = TimestampSigner(secret, salt="countertop.session")
        self._csrf = TimestampSigner(secret, salt="countertop.csrf")

    def cookie_value(self, session_id: str) -> str:
        return self._cookie.sign(session_id).decode()

    def session_id(self, cookie_value: str) -> str | None:
        """The session id a cookie carries, or None when it is forged, mangled or too old."""
        try:
            raw = self._cookie.unsign(cookie_value, max_age=SESSION_MAX_AGE_SECONDS)
        except (BadSignature, UnicodeError):
            return None
        return raw.decode()

    def csrf_token(self, session_id: str) -> str:
        """A token for the `X-CSRF-Token` header; each call gives a new one, all valid."""
        return self._csrf.sign(secrets.token_hex(8) + "." + session_id).decode()

    def csrf_matches(self, token: str, session_id: str) -> bool:
        try:
            raw = self._csrf.unsign(token, max_age=SESSION_MAX_AGE_SECONDS).decode()
        except (BadSignature, UnicodeError):
            return False
        _, _, bound_to = raw.partition(".")
        return hmac.compare_digest(bound_to, session_id)
