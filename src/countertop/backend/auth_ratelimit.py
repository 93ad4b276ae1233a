"""Failed sign-in attempts per client address, in a sliding window (in memory, per instance)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 10
WINDOW_SECONDS = 60.0
_MAX_TRACKED_ADDRESSES = 10_000


class SignInLimiter:
    """After `limit` failures within `window` seconds, an address must wait before trying again."""

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds the address must wait, or None when it may try now."""
        failures = self._recent(address)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - self._clock()))

    def record_failure(self, address: str) -> None:
        if len(self._failures) >= _MAX_TRACKED_ADDRESSES:
            self._forget_idle()
        failures = self._failures.setdefault(address, deque())
        failures.append(self._clock())
        while len(failures) > self.limit:
            failures.popleft()

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def _forget_idle(self) -> None:
        for address in list(self._failures):
            self._recent(address)
