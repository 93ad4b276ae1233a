"""A short-lived memory of who a credential or session belongs to, so most requests skip the database.

Only successful checks are remembered, for `ttl` seconds. Signing out or deleting an operator
forgets its entries at once on the instance that did it; other instances notice within `ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

CACHE_SECONDS = 2.0
_MAX_ENTRIES = 10_000


class PrincipalCache(Generic[T]):
    def __init__(
        self,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = _MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, str, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, _, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        return value

    def put(self, key: str, operator_id: str, value: T) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self._max_entries:
            self._drop_expired()
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
        self._entries[key] = (self._clock() + self.ttl, operator_id, value)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_operator(self, operator_id: str) -> None:
        for key, (_, owner, _) in list(self._entries.items()):
            if owner == operator_id:
                del self._entries[key]

    def _drop_expired(self) -> None:
        now = self._clock()
        for key, (expires, _, _) in list(self._entries.items()):
            if expires <= now:
                del self._entries[key]
