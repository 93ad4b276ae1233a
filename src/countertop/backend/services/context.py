"""What every service needs: the database, the Stripe gateway, settings, a clock, the live hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from countertop.backend.settings import Settings
from countertop.backend.store.db import Database
from countertop.backend.stripe_gateway import StripeGateway

log = logging.getLogger("countertop.services")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(12).replace('-', 'x').replace('_', 'y')}"


@dataclass
class Services:
    db: Database
    gateway: StripeGateway
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    # The app's state object; its `hub` (live status) may be set later or not at all.
    app_state: Any = None
    # Set when durable work was committed, so the worker looks at the outbox at once.
    work_ready: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _live: Any = None
    _event_batches: Any = None
    _locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def one_at_a_time(self, key: str | None) -> AsyncIterator[None]:
        """Within this process, let one task at a time work on `key` (None: no waiting).

        Changes to one payment that arrive together (Stripe's reports of one capture, say) then
        wait for each other instead of colliding and starting over; the database's checks still
        decide between processes.
        """
        if key is None:
            yield
            return
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    @property
    def live(self) -> Any:
        """The coalescing publisher of live updates (`services.live_updates.LiveUpdates`)."""
        if self._live is None:
            from countertop.backend.services.live_updates import LiveUpdates

            self._live = LiveUpdates(self)
        return self._live

    @property
    def event_batches(self) -> Any:
        """The group-committing writer of webhook events (`services.event_batches`)."""
        if self._event_batches is None:
            from countertop.backend.services.event_batches import EventBatches

            self._event_batches = EventBatches(self)
        return self._event_batches

    @property
    def hub(self) -> Any:
        return getattr(self.app_state, "hub", None) if self.app_state is not None else None

    def nobody_listens(self) -> bool:
        """True when live events would reach no one (a single instance with no subscriber)."""
        hub = self.hub
        if hub is None:
            return True
        from countertop.backend.live import MemoryHub

        return isinstance(hub, MemoryHub) and hub.subscriber_count == 0

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run best-effort work in the background: a notification, or a first try of durable work
        whose record is committed already (a leased capture job)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background notification failed: %s", task.exception())

    async def drain(self) -> None:
        """Wait for pending notifications (used on shutdown and by tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
