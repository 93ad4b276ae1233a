"""End-of-day reconciliation: Stripe's PaymentIntents against our orders, and the safe fixes.

Pure: snapshots in, a report out. The caller pages through Stripe (PaymentIntents with the latest
charge expanded) and reads our orders for the same window; nothing here reads a clock.

The only fixes offered are the ones that cannot charge a customer wrongly: capture an authorization
that belongs to a completed order (for no more than the order's total) and cancel an authorization
or an open PaymentIntent nobody will complete. Everything else is reported for a person to decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from countertop.domain.payment_snapshots import (
    CARD_PRESENT_AUTH_SECONDS,
    ChargeSnapshot,
    IntentSnapshot,
    OrderSnapshot,
)

__all__ = [
    "CARD_PRESENT_AUTH_SECONDS",
    "ChargeSnapshot",
    "Discrepancy",
    "Fix",
    "IntentSnapshot",
    "Kind",
    "OrderSnapshot",
    "Report",
    "reconcile",
]

# PaymentIntents younger than this may still be on a reader: they are left alone.
DEFAULT_SETTLE_SECONDS = 15 * 60

COMPLETED = frozenset({"authorized", "paid", "partially_refunded", "refunded"})
CAPTURED_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
# How Stripe marks a PaymentIntent it canceled itself when the authorization lapsed.
EXPIRED = frozenset({"expired", "automatic"})
CANCELABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)


class Kind(StrEnum):
    UNCAPTURED = "uncaptured_authorization"
    FAILED_CAPTURE = "failed_capture"
    EXPIRED_AUTHORIZATION = "expired_authorization"
    ABANDONED = "abandoned_payment_intent"
    ORPHAN = "orphan_payment_intent"
    PAID_WITHOUT_CAPTURE = "paid_without_capture"
    UNRECORDED_CAPTURE = "unrecorded_capture"
    DUPLICATE_PAYMENT = "duplicate_payment"
    AMOUNT_MISMATCH = "amount_mismatch"
    TIP_MISMATCH = "tip_mismatch"
    REFUND_MISMATCH = "refund_mismatch"


@dataclass(frozen=True)
class Fix:
    action: Literal["capture", "cancel"]
    payment_intent: str
    amount_to_capture: int | None = None
    cancellation_reason: Literal["abandoned", "duplicate"] | None = None

    def describe(self) -> str:
        if self.action == "capture":
            amount = "" if self.amount_to_capture is None else f" {self.amount_to_capture}"
            return f"capture{amount} on {self.payment_intent}"
        return f"cancel {self.payment_intent} ({self.cancellation_reason})"


@dataclass(frozen=True)
class Discrepancy:
    kind: Kind
    detail: str
    payment_intent: str | None = None
    order_id: str | None = None
    expected: int | None = None
    actual: int | None = None
    capture_before: int | None = None
    seconds_left: int | None = None
    fix: Fix | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = self.kind.value
        return out


@dataclass(frozen=True)
class Report:
    start: int
    end: int
    as_of: int
    payment_intents_checked: int
    orders_checked: int
    discrepancies: tuple[Discrepancy, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    @property
    def fixes(self) -> list[Fix]:
        return [d.fix for d in self.discrepancies if d.fix is not None]

    def of_kind(self, kind: Kind) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "as_of": self.as_of,
            "payment_intents_checked": self.payment_intents_checked,
            "orders_checked": self.orders_checked,
            "clean": self.clean,
            "discrepancies": [d.to_dict() for d in self.discrepancies],
        }


def _holds_funds(intent: IntentSnapshot) -> bool:
    return intent.status in {"requires_capture", "succeeded"}


def _capture_or_report(
    intent: IntentSnapshot, order: OrderSnapshot, as_of: int
) -> list[Discrepancy]:
    """An authorization left uncaptured on a completed order: capture it, within the order total."""
    charge = intent.charge
    deadline = charge.deadline if charge else intent.created + CARD_PRESENT_AUTH_SECONDS
    kind = (
        Kind.FAILED_CAPTURE
        if order.capture_error or order.status in CAPTURED_STATUSES
        else Kind.UNCAPTURED
    )
    why = f" (last capture error: {order.capture_error})" if order.capture_error else ""
    if order.total > intent.amount_capturable or order.currency != intent.currency:
        return [
            Discrepancy(
                Kind.AMOUNT_MISMATCH,
                f"order total {order.total} {order.currency} exceeds the "
                f"{intent.amount_capturable} {intent.currency} authorized; capture by hand{why}",
                intent.id,
                order.id,
                expected=order.total,
                actual=intent.amount_capturable,
                capture_before=deadline,
                seconds_left=deadline - as_of,
            )
        ]
    partial = order.total if order.total < intent.amount_capturable else None
    return [
        Discrepancy(
            kind,
            f"{intent.amount_capturable} authorized for a {order.status} order, not captured{why}",
            intent.id,
            order.id,
            expected=order.total,
            actual=intent.amount_capturable,
            fix=Fix("capture", intent.id, amount_to_capture=partial),
            capture_before=deadline,
            seconds_left=deadline - as_of,
        )
    ]


def _check_captured(intent: IntentSnapshot, order: OrderSnapshot) -> list[Discrepancy]:
    """A captured PaymentIntent against the order's amounts, tip and refunds."""
    found: list[Discrepancy] = []
    if order.status not in CAPTURED_STATUSES:
        found.append(
            Discrepancy(
                Kind.UNRECORDED_CAPTURE,
                f"Stripe captured {intent.amount_received} but the order is {order.status}",
                intent.id,
                order.id,
                expected=0,
                actual=intent.amount_received,
            )
        )
        return found
    if intent.amount_received != order.amount_captured or intent.currency != order.currency:
        found.append(
            Discrepancy(
                Kind.AMOUNT_MISMATCH,
                f"Stripe captured {intent.amount_received} {intent.currency}, the order records "
                f"{order.amount_captured} {order.currency}",
                intent.id,
                order.id,
                expected=order.amount_captured,
                actual=intent.amount_received,
            )
        )
    if intent.tip != order.tip:
        found.append(
            Discrepancy(
                Kind.TIP_MISMATCH,
                f"tip on Stripe is {intent.tip}, the order records {order.tip}",
                intent.id,
                order.id,
                expected=order.tip,
                actual=intent.tip,
            )
        )
    refunded = intent.charge.amount_refunded if intent.charge else 0
    if refunded != order.amount_refunded:
        found.append(
            Discrepancy(
                Kind.REFUND_MISMATCH,
                f"Stripe has refunded {refunded}, the order records {order.amount_refunded}",
                intent.id,
                order.id,
                expected=order.amount_refunded,
                actual=refunded,
            )
        )
    return found


def _check_order(
    order: OrderSnapshot, intents: list[IntentSnapshot], as_of: int
) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    holding = [i for i in intents if _holds_funds(i)]
    # The payment the order rests on: a captured one first, else an authorization.
    holding.sort(key=lambda i: (i.status != "succeeded", i.created, i.id))
    primary = holding[0] if holding else None

    for extra in holding[1:]:
        fix = (
            Fix("cancel", extra.id, cancellation_reason="duplicate")
            if extra.status == "requires_capture"
            else None
        )
        found.append(
            Discrepancy(
                Kind.DUPLICATE_PAYMENT,
                f"a second payment ({extra.status}) for an order already paid by {primary.id}"
                if primary
                else "a second payment for the order",
                extra.id,
                order.id,
                actual=extra.amount,
                fix=fix,
            )
        )

    if primary is None:
        for intent in intents:
            lapsed = intent.status == "canceled" and intent.cancellation_reason in EXPIRED
            if lapsed and order.status in COMPLETED:
                found.append(
                    Discrepancy(
                        Kind.EXPIRED_AUTHORIZATION,
                        "the authorization expired before it was captured; the customer was not charged",
                        intent.id,
                        order.id,
                        expected=order.total,
                        actual=0,
                    )
                )
                return found
        if order.status in CAPTURED_STATUSES:
            found.append(
                Discrepancy(
                    Kind.PAID_WITHOUT_CAPTURE,
                    f"the order is {order.status} but Stripe holds no captured payment for it",
                    intents[0].id if intents else next(iter(order.payment_intents), None),
                    order.id,
                    expected=order.amount_captured,
                    actual=0,
                )
            )
        for intent in intents:
            if order.status == "canceled" and intent.status in CANCELABLE:
                found.append(_abandoned(intent, order, as_of))
        return found

    if primary.status == "requires_capture":
        if order.status in COMPLETED:
            found += _capture_or_report(primary, order, as_of)
        elif order.status == "canceled":
            found.append(_abandoned(primary, order, as_of))
        else:
            deadline = primary.charge.deadline if primary.charge else None
            found.append(
                Discrepancy(
                    Kind.UNCAPTURED,
                    f"authorized on Stripe while the order is still {order.status}: "
                    "finish or cancel the sale",
                    primary.id,
                    order.id,
                    expected=order.total,
                    actual=primary.amount_capturable,
                    capture_before=deadline,
                    seconds_left=None if deadline is None else deadline - as_of,
                )
            )
    else:
        found += _check_captured(primary, order)

    for intent in intents:
        if intent is not primary and intent.status in CANCELABLE and not _holds_funds(intent):
            found.append(_abandoned(intent, order, as_of))
    return found


def _abandoned(intent: IntentSnapshot, order: OrderSnapshot | None, as_of: int) -> Discrepancy:
    if order is None:
        kind, detail = Kind.ORPHAN, f"{intent.status} with no order"
    else:
        kind, detail = Kind.ABANDONED, f"{intent.status} for a {order.status} order"
    held = intent.amount_capturable if intent.status == "requires_capture" else None
    # A held authorization ties up the customer's funds until it is canceled or lapses.
    deadline = None
    if held is not None:
        charge = intent.charge
        deadline = charge.deadline if charge else intent.created + CARD_PRESENT_AUTH_SECONDS
    return Discrepancy(
        kind,
        detail,
        intent.id,
        order.id if order else None,
        actual=held,
        fix=Fix("cancel", intent.id, cancellation_reason="abandoned"),
        capture_before=deadline,
        seconds_left=None if deadline is None else deadline - as_of,
    )


def reconcile(
    intents: Iterable[IntentSnapshot],
    orders: Iterable[OrderSnapshot],
    *,
    start: int,
    end: int,
    as_of: int,
    settle_seconds: int = DEFAULT_SETTLE_SECONDS,
) -> Report:
    """Compare the window's PaymentIntents with the orders; every discrepancy, each with its fix.

    `intents` should hold every PaymentIntent created in [start, end) plus those the orders name,
    and `orders` every order of the window plus those the intents name in `metadata.order_id`:
    an order whose PaymentIntent is missing is taken as having none on Stripe, and an intent whose
    order is missing as an orphan.
    """
    all_intents = {i.id: i for i in intents}
    order_list = list(orders)
    by_order: dict[str, list[IntentSnapshot]] = {o.id: [] for o in order_list}
    orphans: list[IntentSnapshot] = []
    for order in order_list:
        for pi in order.payment_intents:
            if pi in all_intents:
                by_order[order.id].append(all_intents[pi])
    claimed = {i.id for group in by_order.values() for i in group}
    for intent in all_intents.values():
        if intent.id in claimed:
            continue
        if intent.order_id in by_order:
            by_order[intent.order_id].append(intent)
        else:
            orphans.append(intent)

    found: list[Discrepancy] = []
    for order in order_list:
        intents_of = [i for i in by_order[order.id] if as_of - i.created >= settle_seconds]
        if len(intents_of) < len(by_order[order.id]):
            continue  # a payment may still be under way: look again later
        found += _check_order(order, intents_of, as_of)
    for intent in orphans:
        if as_of - intent.created < settle_seconds or not start <= intent.created < end:
            continue
        if intent.status in CANCELABLE:
            found.append(_abandoned(intent, None, as_of))
        elif intent.status == "succeeded":
            found.append(
                Discrepancy(
                    Kind.ORPHAN,
                    f"captured {intent.amount_received} with no order: refund or record it by hand",
                    intent.id,
                    intent.order_id,
                    actual=intent.amount_received,
                )
            )
    found.sort(key=lambda d: (d.kind.value, d.order_id or "", d.payment_intent or ""))
    return Report(
        start=start,
        end=end,
        as_of=as_of,
        payment_intents_checked=len(all_intents),
        orders_checked=len(order_list),
        discrepancies=tuple(found),
    )
