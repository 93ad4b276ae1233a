"""How long idempotency keys are kept."""

from __future__ import annotations

import pytest

from countertop.emulator import idempotency
from countertop.emulator.idempotency import IdempotencyKeys


def _finish(keys: IdempotencyKeys, key: str) -> None:
    entry = keys.begin("", key, ("POST", "/v1/x", {}), "req_1")
    entry.in_flight = False


def test_keys_expire_after_24_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = IdempotencyKeys()
    clock = [1_000_000.0]
    monkeypatch.setattr(idempotency.time, "time", lambda: clock[0])
    _finish(keys, "old")
    clock[0] += idempotency.TTL_SECONDS - 1
    _finish(keys, "newer")
    assert keys.get("", "old") is not None
    clock[0] += 2
    _finish(keys, "newest")
    assert keys.get("", "old") is None
    assert keys.get("", "newer") is not None


def test_the_oldest_keys_go_first_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idempotency, "MAX_KEYS", 3)
    keys = IdempotencyKeys()
    for name in ("a", "b", "c", "d", "e"):
        _finish(keys, name)
    assert [k for k in "abcde" if keys.get("", k)] == ["c", "d", "e"]


def test_a_key_used_again_after_being_forgotten_keeps_its_new_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(idempotency, "MAX_KEYS", 2)
    keys = IdempotencyKeys()
    _finish(keys, "a")
    keys.forget("", "a")
    _finish(keys, "a")
    _finish(keys, "b")
    assert keys.get("", "a") is not None
