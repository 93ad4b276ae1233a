"""A till that rings up complete sales through the backend's HTTP API the way the POS does, with
the customer tapping cards on the emulator's simulated reader. Every failure the till meets is
answered as the API documents: a `stripe_unavailable` or a lost answer is retried, a busy or
offline reader is waited for, a decline is retried on the same attempt, and a sale that cannot
finish before its deadline is canceled and left to the backend's sweeps."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

GOOD_CARD = "4242424242424242"
DECLINING_CARD = "4000000000000002"
# Amount endings the test card network declines in person (see docs/emulator.md).
DECLINING_ENDINGS = {1, 2, 3, 5, 55, 60, 65, 75}
ACTIVE = ("created", "on_reader", "authorized")
# How often a till looks at its sale, as the POS does between live updates.
POLL = 0.2


@dataclass
class TillStats:
    """What the tills saw, summed over every till."""

    outcomes: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    taps: Counter[str] = field(default_factory=Counter)
    # Sales started and not yet ended, right now (for whoever interrupts them).
    open_sales: int = 0

    def merge(self, other: TillStats) -> None:
        self.outcomes.update(other.outcomes)
        self.answers.update(other.answers)
        self.taps.update(other.taps)


def sale_amount(rng: random.Random) -> int:
    while True:
        amount = rng.randint(100, 20_000)
        if amount % 100 not in DECLINING_ENDINGS:
            return amount


class Till:
    """One till driving one reader; `sell` runs one complete sale."""

    def __init__(
        self,
        backend: httpx.AsyncClient,
        stripe: httpx.AsyncClient,
        location: str,
        reader: str,
        rng: random.Random,
        *,
        decline_rate: float = 0.1,
        deadline: float = 30.0,
        stats: TillStats | None = None,
    ) -> None:
        self.backend = backend
        self.stripe = stripe
        self.location = location
        self.reader = reader
        self.rng = rng
        self.decline_rate = decline_rate
        self.deadline = deadline
        self.stats = stats or TillStats()

    async def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """One API call; a lost answer counts as a 599, as a till would see a network error."""
        try:
            response = await self.backend.request(method, path, json=body, headers=headers)
        except httpx.TransportError:
            self.stats.answers["network_error"] += 1
            return None
        code = response.status_code
        if code >= 400:
            problem = response.json() if "json" in response.headers.get("content-type", "") else {}
            self.stats.answers[f"{code} {problem.get('code', '')}".strip()] += 1
        if code >= 500:
            return None
        return response

    async def create_order(self, key: str) -> str | None:
        body = {"location": self.location, "currency": "usd", "amount": sale_amount(self.rng)}
        for _ in range(20):
            response = await self.call("POST", "/api/orders", body, **{"Idempotency-Key": key})
            if response is not None and response.status_code == 201:
                order_id: str = response.json()["id"]
                return order_id
            await asyncio.sleep(0.1)
        return None

    async def present(self, card: str) -> None:
        """The customer taps a card (and maybe tips) on the reader."""
        self.stats.taps["declining card" if card == DECLINING_CARD else "good card"] += 1
        data = {"card_present[number]": card}
        if self.rng.random() < 0.3:
            data["amount_tip"] = str(self.rng.choice([100, 150, 200, 500]))
        path = f"/v1/test_helpers/terminal/readers/{self.reader}/present_payment_method"
        with contextlib.suppress(httpx.TransportError):  # tapped or not, the till looks again
            await self.stripe.post(path, data=data)

    async def sell(self) -> str:
        """Ring up one sale to the end; answer how it ended, as the till saw it."""
        self.stats.open_sales += 1
        try:
            return await self._sell()
        finally:
            self.stats.open_sales -= 1

    async def _sell(self) -> str:
        order_id = await self.create_order(uuid.uuid4().hex)
        if order_id is None:
            return self.finish("order_not_created")
        declines_left = 1 if self.rng.random() < self.decline_rate else 0
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.deadline
        presented_at: float | None = None
        while loop.time() < give_up:
            response = await self.call("GET", f"/api/orders/{order_id}")
            if response is None or response.status_code != 200:
                await asyncio.sleep(0.1)
                continue
            order = response.json()
            if order["status"] == "paid":
                return self.finish("paid")
            attempts = order["attempts"]
            latest = attempts[-1] if attempts else None
            if latest is not None and latest["status"] in ACTIVE:
                # Tap when the reader has the payment; tap again if nothing came of it (the tap
                # was lost, or came before the reader had the payment).
                stale = presented_at is None or loop.time() - presented_at > 1.5
                if latest["status"] == "on_reader" and stale:
                    card = DECLINING_CARD if declines_left else GOOD_CARD
                    declines_left = max(0, declines_left - 1)
                    await self.present(card)
                    presented_at = loop.time()
                elif latest["status"] == "created" and stale:
                    # Left half-started (a lost answer, a restart): starting again resumes it.
                    await self.start(order_id)
                    presented_at = loop.time()
                await asyncio.sleep(POLL)
                continue
            presented_at = None
            if latest is not None and latest["status"] in ("declined", "failed"):
                path = f"/api/orders/{order_id}/payments/{latest['id']}/retry"
                await self.call("POST", path, {"reader": self.reader})
            else:
                await self.start(order_id)
            await asyncio.sleep(POLL)
        await self.abandon(order_id)
        return self.finish("abandoned")

    async def start(self, order_id: str) -> None:
        response = await self.call(
            "POST", f"/api/orders/{order_id}/payments", {"reader": self.reader}
        )
        if response is not None and response.status_code == 409:
            problem = response.json()
            holder = problem.get("order_id")
            if problem.get("code") == "reader_busy" and holder and holder != order_id:
                # An older sale of this till still holds the reader: clear it, as the operator would.
                await self.call("POST", f"/api/readers/{self.reader}/clear")
            await asyncio.sleep(0.2)

    async def abandon(self, order_id: str) -> None:
        """Cancel what is left of the sale, trying for a few seconds."""
        for _ in range(10):
            response = await self.call("GET", f"/api/orders/{order_id}")
            if response is not None and response.status_code == 200:
                active = [a for a in response.json()["attempts"] if a["status"] in ACTIVE[:2]]
                if not active:
                    return
                path = f"/api/orders/{order_id}/payments/{active[-1]['id']}/cancel"
                await self.call("POST", path)
            await asyncio.sleep(0.5)

    def finish(self, outcome: str) -> str:
        self.stats.outcomes[outcome] += 1
        return outcome


async def run_tills(tills: list[Till], sales: int) -> TillStats:
    """Run `sales` sales spread over the tills, each till one sale at a time."""
    remaining = sales
    lock = asyncio.Lock()

    async def work(till: Till) -> None:
        nonlocal remaining
        while True:
            async with lock:
                if remaining <= 0:
                    return
                remaining -= 1
            await till.sell()

    await asyncio.gather(*(work(till) for till in tills))
    total = TillStats()
    for stats in {id(till.stats): till.stats for till in tills}.values():
        total.merge(stats)
    return total
