"""The bounded memory of recent reads and writes (readers, line items, settled attempts)."""

from __future__ import annotations

from countertop.backend.services.recent import Recent


def test_past_its_bound_the_oldest_entry_goes() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("c", 3)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (None, 2, 3)


def test_putting_an_entry_again_makes_it_the_newest() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("a", 10)
    recent.put("c", 3)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (10, None, 3)


def test_a_forgotten_entry_is_gone_and_forgetting_twice_is_harmless() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.forget("a")
    recent.forget("a")
    assert recent.get("a") is None
