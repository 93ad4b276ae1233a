"""Webhook signatures exactly as Stripe computes them (``Stripe-Signature: t=...,v1=...``)."""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{stamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"
