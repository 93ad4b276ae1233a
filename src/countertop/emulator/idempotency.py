"""``Idempotency-Key`` bookkeeping: saved answers, in-flight keys, 24-hour pruning."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

TTL_SECONDS = 24 * 3600
# Stripe keeps keys 24 hours; past this many the oldest go first, so memory stays bounded.
MAX_KEYS = 200_000


@dataclass
class Saved:
    fingerprint: tuple[str, str, Any]
    created: float
    request_id: str
    status: int = 0
    body: bytes = b""
    in_flight: bool = True


class IdempotencyKeys:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], Saved] = {}
        self._ages: deque[tuple[float, tuple[str, str]]] = deque()

    def _prune(self, now: float) -> None:
        ages = self._ages
        while ages and (ages[0][0] < now - TTL_SECONDS or len(ages) > MAX_KEYS):
            stamp, key = ages.popleft()
            entry = self.saved.get(key)
            if entry is not None and entry.created == stamp and not entry.in_flight:
                del self.saved[key]

    def get(self, account: str, key: str) -> Saved | None:
        return self.saved.get((account, key))

    def begin(
        self, account: str, key: str, fingerprint: tuple[str, str, Any], request_id: str
    ) -> Saved:
        now = time.time()
        entry = Saved(fingerprint, now, request_id)
        self.saved[(account, key)] = entry
        self._ages.append((now, (account, key)))
        self._prune(now)
        return entry

    def forget(self, account: str, key: str) -> None:
        self.saved.pop((account, key), None)

    def clear(self) -> None:
        self.saved.clear()
        self._ages.clear()
