"""The pieces of authentication that need no database: scoping, credentials, signing, limiting."""

from __future__ import annotations

import pytest

from countertop.backend.auth import Principal
from countertop.backend.auth_cache import PrincipalCache
from countertop.backend.auth_credentials import (
    SessionSigner,
    hash_credential,
    lookup_key,
    new_credential,
    verify_credential,
)
from countertop.backend.auth_ratelimit import SignInLimiter
from countertop.backend.errors import ApiError

TILL = Principal(
    id="op_1",
    name="Front till",
    role="operator",
    is_admin=False,
    location_ids=frozenset({"tml_A", "tml_B"}),
)
ADMIN = Principal(id="op_2", name="Owner", role="admin", is_admin=True, location_ids=None)


def test_an_operator_reaches_only_its_locations() -> None:
    assert TILL.can_access("tml_A")
    assert TILL.can_access("tml_B")
    assert not TILL.can_access("tml_C")
    assert not TILL.can_access(None)
    assert TILL.visible(["tml_C", "tml_B", "tml_A"]) == ["tml_B", "tml_A"]


def test_an_admin_reaches_every_location() -> None:
    assert ADMIN.can_access("tml_anything")
    assert ADMIN.visible(["tml_C", "tml_A"]) == ["tml_C", "tml_A"]
    ADMIN.check_location("tml_Z")


def test_a_foreign_location_is_refused_with_forbidden_location() -> None:
    TILL.check_location("tml_A")
    with pytest.raises(ApiError) as caught:
        TILL.check_location("tml_C")
    assert (caught.value.status, caught.value.code) == (403, "forbidden_location")


def test_principal_json_lists_its_locations_sorted() -> None:
    assert TILL.to_json() == {
        "id": "op_1",
        "name": "Front till",
        "role": "operator",
        "locations": ["tml_A", "tml_B"],
    }
    assert ADMIN.to_json()["locations"] == []


def test_a_credential_verifies_only_against_its_own_hash() -> None:
    credential = new_credential()
    stored = hash_credential(credential)
    assert credential not in (stored.lookup, stored.salt, stored.digest)
    assert stored.lookup == lookup_key(credential)
    assert verify_credential(credential, stored.salt, stored.digest)
    assert not verify_credential(credential + "x", stored.salt, stored.digest)
    assert not verify_credential(new_credential(), stored.salt, stored.digest)


def test_two_hashes_of_one_credential_differ_but_share_the_lookup_key() -> None:
    credential = new_credential()
    first, second = hash_credential(credential), hash_credential(credential)
    assert first.lookup == second.lookup
    assert first.digest != second.digest


def test_new_credentials_are_long_and_distinct() -> None:
    credentials = {new_credential() for _ in range(50)}
    assert len(credentials) == 50
    assert all(c.startswith("ctk_") and len(c) >= 40 for c in credentials)


def test_a_session_cookie_survives_only_unaltered_and_under_its_secret() -> None:
    signer = SessionSigner("secret-one")
    cookie = signer.cookie_value("sess123")
    assert signer.session_id(cookie) == "sess123"
    assert signer.session_id(cookie.replace("sess123", "sess124")) is None
    assert signer.session_id(cookie[:-2]) is None
    assert signer.session_id("garbage") is None
    assert SessionSigner("secret-two").session_id(cookie) is None


def test_a_csrf_token_is_bound_to_one_session() -> None:
    signer = SessionSigner("secret-one")
    token = signer.csrf_token("sess123")
    assert signer.csrf_matches(token, "sess123")
    assert not signer.csrf_matches(token, "sess999")
    assert not signer.csrf_matches("", "sess123")
    assert not signer.csrf_matches(token + "x", "sess123")
    assert not SessionSigner("secret-two").csrf_matches(token, "sess123")
    # a cookie value is not a CSRF token (different signing salt)
    assert not signer.csrf_matches(signer.cookie_value("sess123"), "sess123")


def test_each_csrf_token_is_fresh_and_all_remain_valid() -> None:
    signer = SessionSigner("secret-one")
    first, second = signer.csrf_token("s"), signer.csrf_token("s")
    assert first != second
    assert signer.csrf_matches(first, "s") and signer.csrf_matches(second, "s")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limiter_blocks_after_the_limit_and_forgives_after_the_window() -> None:
    clock = FakeClock()
    limiter = SignInLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.record_failure("10.0.0.1")
        clock.now += 1
    assert limiter.retry_after("10.0.0.1") == 57  # the first failure leaves the window at 1060
    assert limiter.retry_after("10.0.0.2") is None
    clock.now = 1060.5
    assert limiter.retry_after("10.0.0.1") is None


def test_the_limiter_counts_a_sliding_window() -> None:
    clock = FakeClock()
    limiter = SignInLimiter(limit=2, window=10, clock=clock)
    limiter.record_failure("a")
    clock.now += 8
    limiter.record_failure("a")
    assert limiter.retry_after("a") == 2
    clock.now += 3  # the first failure has left the window
    assert limiter.retry_after("a") is None
    limiter.record_failure("a")
    assert limiter.retry_after("a") == 7


def test_the_principal_cache_remembers_for_its_time_only() -> None:
    clock = FakeClock()
    cache: PrincipalCache[str] = PrincipalCache(ttl=2, clock=clock)
    cache.put("bearer:x", "op_1", "first")
    assert cache.get("bearer:x") == "first"
    clock.now += 1.9
    assert cache.get("bearer:x") == "first"
    clock.now += 0.2
    assert cache.get("bearer:x") is None


def test_the_principal_cache_forgets_a_session_or_every_entry_of_an_operator() -> None:
    cache: PrincipalCache[str] = PrincipalCache(ttl=60, clock=FakeClock())
    cache.put("bearer:a", "op_1", "one")
    cache.put("session:s1", "op_1", "one")
    cache.put("session:s2", "op_2", "two")
    cache.forget("session:s2")
    assert cache.get("session:s2") is None
    cache.forget_operator("op_1")
    assert cache.get("bearer:a") is None and cache.get("session:s1") is None


def test_the_principal_cache_stays_bounded() -> None:
    cache: PrincipalCache[int] = PrincipalCache(ttl=60, clock=FakeClock(), max_entries=3)
    for n in range(10):
        cache.put(f"k{n}", "op", n)
    assert cache.get("k9") == 9
    assert sum(cache.get(f"k{n}") is not None for n in range(10)) <= 3
