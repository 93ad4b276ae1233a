"""The invariants a chaos or crash run must end with, checked against Stripe's state (the
emulator's, read through the official `stripe` library) and the backend's database.

- every captured charge belongs to exactly one order marked paid, with the same amount and tip;
- no order has two successful charges, and no attempt has two PaymentIntents;
- no authorization is left uncaptured;
- no order is stuck in a non-final state;
- every order marked paid has its captured charge (no sale paid on paper only);
- the sum of captured amounts equals the sum of paid orders.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from countertop.backend.store.db import normalize_url
from countertop.backend.store.payments import OrderRow

PAID = ("paid", "partially_refunded", "refunded")
NOT_FINAL = ("in_payment", "authorized")


@dataclass
class Verdict:
    """Counts of what was checked and every violation found, by invariant."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def violate(self, invariant: str, detail: str) -> None:
        self.violations[invariant].append(detail)

    def lines(self) -> list[str]:
        out = [f"  {name}: {value}" for name, value in sorted(self.counts.items())]
        for name in INVARIANTS:
            found = self.violations.get(name, [])
            out.append(f"  invariant {name}: {len(found)} violations")
            out.extend(f"    {detail}" for detail in found[:10])
        return out


INVARIANTS = (
    "captured charge belongs to one paid order with the same amount and tip",
    "no order has two successful charges",
    "no attempt has two PaymentIntents",
    "no authorization left uncaptured",
    "no order stuck in a non-final state",
    "every paid order has its captured charge",
    "sum captured equals sum of paid orders",
)


def read_stripe(api_base: str, secret_key: str) -> tuple[list[Any], list[Any]]:
    """Every PaymentIntent and Charge, through the stripe library (blocking; run in a thread)."""
    client = stripe.StripeClient(
        secret_key, base_addresses={"api": api_base}, max_network_retries=2
    )
    intents = client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
    charges = client.v1.charges.list({"limit": 100}).auto_paging_iter()
    return [i.to_dict() for i in intents], [c.to_dict() for c in charges]


async def read_orders(database_url: str) -> list[OrderRow]:
    engine = create_async_engine(normalize_url(database_url))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(OrderRow))).all()
        return [OrderRow(**row._mapping) for row in rows]
    finally:
        await engine.dispose()


def tip_of(intent: Any) -> int:
    details = intent.get("amount_details") or {}
    tip = details.get("tip") or {}
    return int(tip.get("amount") or 0)


def check(intents: list[Any], charges: list[Any], orders: list[OrderRow]) -> Verdict:
    verdict = Verdict()
    by_order = {order.id: order for order in orders}
    by_intent = {intent["id"]: intent for intent in intents}
    verdict.counts.update(
        {
            "orders": len(orders),
            "payment_intents": len(intents),
            "charges": len(charges),
        }
    )
    verdict.counts.update(f"orders {o.status}" for o in orders)
    verdict.counts.update(f"payment_intents {i['status']}" for i in intents)
    successful: Counter[str] = Counter()
    captured_by_order: Counter[str] = Counter()
    captured_total = 0
    for charge in charges:
        if charge["status"] != "succeeded":
            continue
        intent = by_intent.get(charge["payment_intent"])
        order_id = (intent or {}).get("metadata", {}).get("order_id")
        released = not charge["captured"] and charge["refunded"]
        if not released:
            successful[order_id or charge["id"]] += 1
        if not charge["captured"]:
            continue
        captured_total += charge["amount_captured"]
        verdict.counts["captured charges"] += 1
        order = by_order.get(order_id or "")
        if order is None or intent is None:
            verdict.violate(INVARIANTS[0], f"{charge['id']}: no order ({order_id})")
            continue
        captured_by_order[order.id] += 1
        if order.status not in PAID:
            verdict.violate(INVARIANTS[0], f"{charge['id']}: order {order.id} is {order.status}")
        elif (order.amount_captured, order.total, order.tip) != (
            charge["amount_captured"],
            charge["amount"],
            tip_of(intent),
        ):
            verdict.violate(
                INVARIANTS[0],
                f"{charge['id']}: order {order.id} captured {order.amount_captured} total "
                f"{order.total} (tip {order.tip}); charge {charge['amount_captured']} of "
                f"{charge['amount']} tip {tip_of(intent)}",
            )
    for order_id, count in successful.items():
        if count > 1:
            verdict.violate(INVARIANTS[1], f"order {order_id}: {count} successful charges")
    per_attempt = Counter(i.get("metadata", {}).get("attempt_id") for i in intents)
    for attempt_id, count in per_attempt.items():
        if attempt_id and count > 1:
            verdict.violate(INVARIANTS[2], f"attempt {attempt_id}: {count} PaymentIntents")
    for intent in intents:
        if intent["status"] == "requires_capture":
            verdict.violate(INVARIANTS[3], f"{intent['id']} ({intent['metadata'].get('order_id')})")
    for order in orders:
        if order.status in NOT_FINAL:
            verdict.violate(INVARIANTS[4], f"order {order.id} is {order.status}")
        if order.status in PAID and captured_by_order[order.id] != 1:
            verdict.violate(
                INVARIANTS[5], f"order {order.id}: {captured_by_order[order.id]} captured charges"
            )
    paid_total = sum(o.amount_captured for o in orders if o.status in PAID)
    verdict.counts["sum captured (Stripe)"] = captured_total
    verdict.counts["sum paid orders"] = paid_total
    if captured_total != paid_total:
        verdict.violate(INVARIANTS[6], f"Stripe captured {captured_total}, orders {paid_total}")
    return verdict
