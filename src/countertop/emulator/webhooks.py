"""Signed, retried webhook delivery, with injectable delivery faults.

Every event is delivered to the account's enabled endpoints whose ``enabled_events`` match (``*``
matches all; endpoints created with ``connect=true`` also get the connected accounts' events) and to
each ``--webhook`` URL. A non-2xx answer or a connection error is retried with exponential backoff.
Delivery runs on the emulator's event loop; ``pending`` counts deliveries not yet finished, which is
what ``flush`` waits on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from countertop.emulator.signing import signature
from countertop.emulator.store import Account, Obj
from countertop.emulator.versions import render

if TYPE_CHECKING:
    from countertop.emulator.emulator import Emulator

FAULT_KINDS = ("drop", "duplicate", "delay", "reorder")


@dataclass
class Delivery:
    event_id: str
    event_type: str
    url: str
    secret: str
    payload: bytes
    account_id: str = ""
    delay: float = 0.0
    attempts: int = 0


@dataclass
class WebhookFault:
    kind: str
    count: int | None = 1
    probability: float = 1.0
    delay_ms: int = 0
    event_types: tuple[str, ...] = ()

    def matches(self, event_type: str) -> bool:
        if self.event_types and event_type not in self.event_types:
            return False
        return self.probability >= 1.0 or random.random() < self.probability


@dataclass
class WebhookSettings:
    retry_base_ms: int = 50
    max_attempts: int = 6
    timeout_s: float = 5.0
    # Deliveries on the wire at once; the others wait their turn before their clock starts.
    max_in_flight: int = 32
    urls: list[str] = field(default_factory=list)
    secret: str = ""
    # What the `urls` are sent, as an endpoint's `enabled_events` (`stripe listen --events`).
    events: list[str] = field(default_factory=lambda: ["*"])


def _wants(endpoint: Obj, event_type: str) -> bool:
    enabled = endpoint.get("enabled_events") or []
    return "*" in enabled or event_type in enabled


class WebhookDispatcher:
    def __init__(self, emulator: Emulator, settings: WebhookSettings) -> None:
        self.emulator = emulator
        self.settings = settings
        self.faults: list[WebhookFault] = []
        self.pending = 0
        self.held: list[Delivery] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=2000)
        self._client: aiohttp.ClientSession | None = None
        self._gate: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    # -- targets -------------------------------------------------------------------------------
    def _targets(self, account: Account, event_type: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        secrets = account.collection("webhook_secrets")
        for endpoint in account.collection("webhook_endpoints").objects.values():
            if endpoint["status"] == "enabled" and _wants(endpoint, event_type):
                found.append((endpoint["url"], secrets.objects[endpoint["id"]]["secret"]))
        if account.id:
            platform = self.emulator.store.account("")
            platform_secrets = platform.collection("webhook_secrets")
            for endpoint in platform.collection("webhook_endpoints").objects.values():
                if (
                    platform_secrets.objects[endpoint["id"]].get("connect")
                    and endpoint["status"] == "enabled"
                    and _wants(endpoint, event_type)
                ):
                    found.append(
                        (endpoint["url"], platform_secrets.objects[endpoint["id"]]["secret"])
                    )
        if _wants({"enabled_events": self.settings.events}, event_type):
            found.extend((url, self.settings.secret) for url in self.settings.urls)
        return found

    # -- queueing ------------------------------------------------------------------------------
    def enqueue(self, account: Account, event: Obj) -> None:
        """Queue deliveries of ``event``; called with the emulator lock held."""
        targets = self._targets(account, event["type"])
        event["pending_webhooks"] = len(targets)
        if not targets:
            return
        payload = orjson.dumps(render(event, event["api_version"]), option=orjson.OPT_INDENT_2)
        deliveries: list[Delivery] = []
        for url, secret in targets:
            delivery = Delivery(event["id"], event["type"], url, secret, payload, account.id)
            deliveries.extend(self._apply_faults(delivery))
        for delivery in deliveries:
            self._schedule(delivery)

    def _take_fault(self, event_type: str) -> WebhookFault | None:
        for fault in self.faults:
            if fault.matches(event_type):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def _apply_faults(self, delivery: Delivery) -> list[Delivery]:
        fault = self._take_fault(delivery.event_type)
        if fault is None:
            return [delivery]
        self._record(delivery, None, f"fault:{fault.kind}")
        if fault.kind == "drop":
            return []
        if fault.kind == "duplicate":
            twin = Delivery(**{**delivery.__dict__})
            return [delivery, twin]
        if fault.kind == "delay":
            delivery.delay = fault.delay_ms / 1000
            return [delivery]
        # reorder: hold deliveries until the fault is used up, then send them newest first.
        self.pending += 1
        self.held.append(delivery)
        if fault.count is None or fault.count <= 0:
            self.release_held()
        return []

    def release_held(self) -> None:
        """Send the held deliveries newest first, one after the other."""
        held, self.held = self.held, []
        if held:
            self.emulator.call_soon(self._start_in_turn, list(reversed(held)))

    def _start_in_turn(self, deliveries: list[Delivery]) -> None:
        task = asyncio.ensure_future(self._deliver_in_turn(deliveries))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_in_turn(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await self._deliver(delivery)

    def _schedule(self, delivery: Delivery) -> None:
        self.pending += 1
        self.emulator.call_soon(self._start, delivery)

    def _start(self, delivery: Delivery) -> None:
        task = asyncio.ensure_future(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivering ----------------------------------------------------------------------------
    def _record(self, delivery: Delivery, status: int | None, outcome: str) -> None:
        self.log.append(
            {
                "event": delivery.event_id,
                "type": delivery.event_type,
                "url": delivery.url,
                "attempt": delivery.attempts,
                "status": status,
                "outcome": outcome,
                "at": time.time(),
            }
        )

    async def _post(self, delivery: Delivery) -> int | None:
        """One delivery attempt. At most `max_in_flight` are sent at once and the rest queue here,
        not in the HTTP client's pool: its queue is scanned in full on every request that starts
        or ends, so thousands of waiting deliveries would take the event loop over, and time spent
        waiting there would count against the delivery's timeout."""
        if self._client is None or self._gate is None:
            cap = max(1, self.settings.max_in_flight)
            # aiohttp: a delivery costs less than half the CPU it costs through httpx.
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=cap),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
                skip_auto_headers=("Accept-Encoding",),
            )
            self._gate = asyncio.Semaphore(cap)
        async with self._gate:
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature(delivery.payload, delivery.secret),
            }
            try:
                async with self._client.post(
                    delivery.url, data=delivery.payload, headers=headers
                ) as response:
                    await response.read()
                    return response.status
            except (aiohttp.ClientError, TimeoutError):
                return None

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            if delivery.delay:
                await asyncio.sleep(delivery.delay)
            while True:
                delivery.attempts += 1
                status = await self._post(delivery)
                ok = status is not None and 200 <= status < 300
                with self.emulator.lock:
                    self._record(delivery, status, "delivered" if ok else "failed")
                    if ok:
                        self._delivered(delivery)
                if ok or delivery.attempts >= self.settings.max_attempts:
                    return
                backoff = self.settings.retry_base_ms * (2 ** (delivery.attempts - 1))
                await asyncio.sleep(backoff / 1000)
        finally:
            with self.emulator.lock:
                self.pending -= 1

    def _delivered(self, delivery: Delivery) -> None:
        """One target fewer left waiting on the event (its ``pending_webhooks``)."""
        account = self.emulator.store.accounts.get(delivery.account_id)
        event = account.get("events", delivery.event_id) if account else None
        if account is not None and event is not None and event["pending_webhooks"] > 0:
            event["pending_webhooks"] -= 1
            account.changed("events", event)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._gate = None
