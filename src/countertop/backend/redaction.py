"""Scrubbing secrets and card data out of text bound for a log line.

What is removed: Stripe secret and restricted keys (`sk_...`, `rk_...`), webhook signing secrets
(`whsec_...`), operator credentials (`ctk_...`), `Bearer`/`Basic` credentials, `Stripe-Signature`
signatures, the values of sensitive fields (authorization, cookie, password, secret, csrf token,
credential, cvc, ... in `key=value`, `key: value`, JSON and Python-repr spellings), anything that
looks like a card number (14 to 19 digits, optionally grouped, passing the Luhn check), and the exact
values of secrets the process knows (`add_secret`). Every match becomes `[REDACTED]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[REDACTED]"

SENSITIVE_NAMES = (
    "authorization",
    "proxy-authorization",
    "stripe-signature",
    "stripe_signature",
    "cookie",
    "set-cookie",
    "x-csrf-token",
    "csrf_token",
    "credential",
    "password",
    "passwd",
    "secret",
    "secret_key",
    "api_key",
    "webhook_secret",
    "session_secret",
    "stripe_secret_key",
    "stripe_webhook_secret",
    "client_secret",
    "number",
    "cvc",
    "cvv",
)
_NAMES = "|".join(re.escape(name) for name in sorted(SENSITIVE_NAMES, key=len, reverse=True))

_TOKENS = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z_]{6,}"  # Stripe secret / restricted keys
    r"|\bwhsec_[0-9A-Za-z+/=_-]{6,}"  # webhook signing secrets
    r"|\bctk_[0-9A-Za-z_-]{8,}"  # operator credentials
    r"|\bpi_[0-9A-Za-z]+_secret_[0-9A-Za-z]+"  # PaymentIntent client secrets
    r"|\b(?:[Bb]earer|Basic)\s+[0-9A-Za-z_.~+/=-]{8,}"  # HTTP credentials
    r"|\bv[01]=[0-9a-f]{32,}"  # Stripe-Signature signatures
)
# "name": "value" / 'name': 'value' / name="value"
_QUOTED = re.compile(
    rf"""(?i)(?P<key>["']?\b(?:{_NAMES})["']?\s*[:=]\s*)(?P<q>["'])(?P<value>(?:\\.|(?!(?P=q)).)*)(?P=q)"""
)
# name=value / name: value; header-like values (which hold spaces) run to the end of the line
_LINE_NAMES = "(?:set-)?cookie|(?:proxy-)?authorization|stripe[-_]signature"
_BARE = re.compile(
    rf"""(?i)(?P<key>\b(?:{_LINE_NAMES})\s*[:=]\s*)(?=[^\s"'\[])[^\n"']*"""
    rf"""|(?P<key2>\b(?:{_NAMES})\]?\s*[:=]\s*)(?=[^\s"'\[])[^\s"',;}}&)\]]+"""
)
_DIGITS = re.compile(r"(?<![\w.+-])\d(?:[ -]?\d){13,18}(?![\w.])")

# Most lines hold nothing to redact, and the patterns above cost tens of microseconds a line (the
# case-insensitive ones most). A line is run through them only if its case-folded text holds one
# of these fragments, which every match of every pattern contains, or a run of 14 digits. (Case
# folding, not lower(), since the patterns' case-insensitive matching also takes the long s and
# the Kelvin sign for s and k.)
_FRAGMENTS = (
    tuple(sorted({"sk_", "rk_", "whsec_", "ctk_", "_secret_", "bearer", "basic", "v0=", "v1="}))
    + SENSITIVE_NAMES
)
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){13}")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return MASK if 14 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _quoted(match: re.Match[str]) -> str:
    return f"{match.group('key')}{match.group('q')}{MASK}{match.group('q')}"


def _bare(match: re.Match[str]) -> str:
    if match.group("key") is not None:
        return match.group("key") + MASK
    return match.group("key2") + MASK


class Redactor:
    """Applies the patterns above plus the exact secrets it was told about."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        """Never let this exact value through (ignored when too short to be a secret)."""
        if secret and len(secret) >= 8:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if not may_hold_sensitive(text):
            return text
        return redact_patterns(text)

    def is_sensitive_name(self, name: str) -> bool:
        return name.lower() in SENSITIVE_NAMES


def may_hold_sensitive(text: str) -> bool:
    """False only if no pattern of `redact_patterns` can match `text` (a cheap first look)."""
    folded = text.casefold()
    return any(fragment in folded for fragment in _FRAGMENTS) or bool(_DIGIT_RUN.search(text))


def redact_patterns(text: str) -> str:
    """Every pattern above applied to `text`."""
    text = _TOKENS.sub(MASK, text)
    text = _QUOTED.sub(_quoted, text)
    text = _BARE.sub(_bare, text)
    return _DIGITS.sub(_card, text)


REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR.redact(text)


def add_secret(secret: str | None) -> None:
    REDACTOR.add_secret(secret)
