"""The in-process part of every hub: subscriptions, their queues, local delivery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from countertop.backend import metrics

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]

# A subscriber that falls this far behind loses its oldest events, not the newest: every event is
# a full snapshot, so the newest ones are what a screen needs.
DEFAULT_QUEUE_SIZE = 256


class Subscription:
    """Events of one channel for one subscriber, in publication order."""

    def __init__(self, channel: str, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        self.channel = channel
        self.dropped = 0
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)

    def deliver(self, event: str, data: dict[str, Any]) -> None:
        while True:
            try:
                self._queue.put_nowait((event, data))
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when `timeout` seconds pass without one."""
        if timeout is None:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()


class LiveHub:
    """Delivers published events to this process's subscribers; subclasses relay them further."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._subscriptions: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        """Open whatever the hub needs (nothing for the in-process hub)."""

    async def close(self) -> None:
        """Release what `start` opened."""

    async def publish(self, channel: str, event: str, data: dict[str, Any]) -> None:
        """Send `event` with `data` to every subscriber of `channel`. Never raises for delivery."""
        body = encode(data)
        self.deliver_local(channel, event, body)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, self.queue_size)
        self._subscriptions.setdefault(channel, set()).add(subscription)
        metrics.LIVE_SUBSCRIBERS.inc()
        try:
            yield subscription
        finally:
            metrics.LIVE_SUBSCRIBERS.dec()
            subscribers = self._subscriptions.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[channel]

    def has_subscribers(self, channel: str) -> bool:
        return channel in self._subscriptions

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscriptions.values())

    def deliver_local(self, channel: str, event: str, body: bytes) -> None:
        """Hand an encoded event to this process's subscribers, each getting its own copy."""
        subscribers = self._subscriptions.get(channel)
        if not subscribers:
            return
        for subscription in list(subscribers):
            subscription.deliver(event, orjson.loads(body))

    def resync_all(self) -> None:
        """Tell every subscriber that events may have been missed."""
        self._tell_all("resync")

    def end_streams(self) -> None:
        """Ask every subscriber to finish (the server is shutting down): an `end` event."""
        self._tell_all("end")

    def _tell_all(self, event: str) -> None:
        for subscribers in list(self._subscriptions.values()):
            for subscription in list(subscribers):
                subscription.deliver(event, {})


class MemoryHub(LiveHub):
    """The hub for a single backend instance (SQLite): delivery stays in the process."""


def encode(data: dict[str, Any]) -> bytes:
    """JSON for an event's data; datetimes and other orjson-native types become strings."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
