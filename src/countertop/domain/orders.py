"""Orders: line items, tax, tip and total, and the order status derived from its attempts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from countertop.domain.attempts import AttemptStatus
from countertop.domain.errors import DomainError
from countertop.domain.money import MAX_AMOUNT, check_amount

MAX_LINE_ITEMS = 100
MAX_QUANTITY = 10_000


class OrderStatus(StrEnum):
    OPEN = "open"
    IN_PAYMENT = "in_payment"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELED = "canceled"


@dataclass(frozen=True)
class LineItem:
    description: str
    quantity: int
    unit_amount: int

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise DomainError("a line item needs a description")
        if len(self.description) > 200:
            raise DomainError("a line item description is at most 200 characters")
        if isinstance(self.quantity, bool) or not 1 <= self.quantity <= MAX_QUANTITY:
            raise DomainError(f"quantity must be between 1 and {MAX_QUANTITY}")
        check_amount(self.unit_amount, what="unit_amount")

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


@dataclass(frozen=True)
class Cart:
    """What the customer is asked to pay before any tip: items plus tax."""

    line_items: tuple[LineItem, ...]
    tax: int

    def __post_init__(self) -> None:
        if len(self.line_items) > MAX_LINE_ITEMS:
            raise DomainError(f"an order holds at most {MAX_LINE_ITEMS} line items")
        check_amount(self.tax, what="tax")
        check_amount(self.total, what="total", allow_zero=False)

    @property
    def subtotal(self) -> int:
        return sum(item.amount for item in self.line_items)

    @property
    def total(self) -> int:
        return self.subtotal + self.tax

    @classmethod
    def keyed(cls, amount: int) -> Cart:
        """A keyed amount with no itemised cart: one line, no tax."""
        check_amount(amount, what="amount", allow_zero=False)
        return cls((LineItem("Amount", 1, amount),), 0)


# Which attempt statuses put the order in which status, strongest first.
_STATUS_BY_ATTEMPT: Sequence[tuple[AttemptStatus, OrderStatus]] = (
    (AttemptStatus.REFUNDED, OrderStatus.REFUNDED),
    (AttemptStatus.PARTIALLY_REFUNDED, OrderStatus.PARTIALLY_REFUNDED),
    (AttemptStatus.CAPTURED, OrderStatus.PAID),
    (AttemptStatus.AUTHORIZED, OrderStatus.AUTHORIZED),
    (AttemptStatus.ON_READER, OrderStatus.IN_PAYMENT),
    (AttemptStatus.CREATED, OrderStatus.IN_PAYMENT),
    (AttemptStatus.DECLINED, OrderStatus.IN_PAYMENT),
    (AttemptStatus.FAILED, OrderStatus.IN_PAYMENT),
)


def order_status(attempts: Iterable[AttemptStatus]) -> OrderStatus:
    """An order is as far along as its furthest attempt; canceled attempts leave it open.

    A declined or failed attempt keeps the order in payment: its PaymentIntent is still live and the
    next try reuses it. Only a captured attempt makes the order paid.
    """
    present = set(attempts)
    for attempt_status, status in _STATUS_BY_ATTEMPT:
        if attempt_status in present:
            return status
    return OrderStatus.OPEN


# Attempt statuses that leave an order in payment, none of them the one that paid it. They sit
# together at the weak end of `_STATUS_BY_ATTEMPT`, so an attempt moving among them changes
# nothing an order derives from its attempts, whatever its other attempts are.
_UNDECIDED = frozenset(a for a, status in _STATUS_BY_ATTEMPT if status is OrderStatus.IN_PAYMENT)


def order_unaffected(before: AttemptStatus, after: AttemptStatus) -> bool:
    """True when an attempt going from `before` to `after` cannot change its order's status,
    tip, totals or card (a payment handed to a reader, declined there, or handed over again)."""
    return before in _UNDECIDED and after in _UNDECIDED


def is_payable(status: OrderStatus) -> bool:
    return status in (OrderStatus.OPEN, OrderStatus.IN_PAYMENT)


def order_total(cart_total: int, tip: int) -> int:
    total = cart_total + tip
    if total > MAX_AMOUNT:
        raise DomainError("the total with tip is too large")
    return total
