from __future__ import annotations

import itertools

import pytest

from countertop.domain.attempts import SETTLED
from countertop.domain.attempts import AttemptStatus as A
from countertop.domain.errors import DomainError
from countertop.domain.money import Money, check_amount, normalize_currency
from countertop.domain.orders import (
    Cart,
    LineItem,
    OrderStatus,
    is_payable,
    order_status,
    order_total,
    order_unaffected,
)


def test_cart_totals() -> None:
    cart = Cart((LineItem("Coffee", 2, 350), LineItem("Bagel", 1, 425)), tax=90)
    assert cart.subtotal == 1125
    assert cart.total == 1215
    assert order_total(cart.total, 200) == 1415


def test_keyed_amount_is_one_line_without_tax() -> None:
    cart = Cart.keyed(1999)
    assert cart.total == 1999 and cart.tax == 0 and len(cart.line_items) == 1


@pytest.mark.parametrize(
    "build",
    [
        lambda: LineItem("", 1, 100),
        lambda: LineItem("Coffee", 0, 100),
        lambda: LineItem("Coffee", 1, -1),
        lambda: LineItem("Coffee", True, 100),
        lambda: Cart((LineItem("Free", 1, 0),), tax=0),
        lambda: Cart((LineItem("Coffee", 1, 100),), tax=-5),
        lambda: Cart.keyed(0),
        lambda: Cart.keyed(100_000_000),
        lambda: Money(100, "dollars"),
        lambda: check_amount(1.5),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused(build: object) -> None:
    with pytest.raises(DomainError):
        build()  # type: ignore[operator]


def test_money() -> None:
    assert Money(1250, "USD").currency == "usd"
    assert Money(1250, "usd").format() == "12.50 USD"
    assert Money(1200, "jpy").format() == "1200 JPY"
    assert (Money(100, "usd") + Money(5, "usd")).amount == 105
    with pytest.raises(DomainError):
        Money(100, "usd") + Money(100, "eur")
    assert normalize_currency(" EUR ") == "eur"


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        ([], OrderStatus.OPEN),
        ([A.CANCELED], OrderStatus.OPEN),
        ([A.CANCELED, A.CREATED], OrderStatus.IN_PAYMENT),
        ([A.ON_READER], OrderStatus.IN_PAYMENT),
        ([A.DECLINED], OrderStatus.IN_PAYMENT),
        ([A.FAILED], OrderStatus.IN_PAYMENT),
        ([A.AUTHORIZED], OrderStatus.AUTHORIZED),
        ([A.CANCELED, A.CAPTURED], OrderStatus.PAID),
        ([A.PARTIALLY_REFUNDED], OrderStatus.PARTIALLY_REFUNDED),
        ([A.REFUNDED], OrderStatus.REFUNDED),
    ],
)
def test_order_status_follows_its_attempts(attempts: list[A], expected: OrderStatus) -> None:
    assert order_status(attempts) is expected


def test_a_declined_or_unsettled_order_is_never_paid() -> None:
    for status in (A.DECLINED, A.FAILED, A.AUTHORIZED, A.ON_READER):
        assert order_status([status]) is not OrderStatus.PAID
    assert is_payable(OrderStatus.OPEN) and is_payable(OrderStatus.IN_PAYMENT)
    assert not is_payable(OrderStatus.PAID) and not is_payable(OrderStatus.AUTHORIZED)


def test_an_attempt_handed_to_a_reader_declined_or_handed_over_again_leaves_its_order_alone() -> (
    None
):
    assert order_unaffected(A.CREATED, A.ON_READER)
    assert order_unaffected(A.ON_READER, A.DECLINED)
    assert order_unaffected(A.DECLINED, A.ON_READER)
    assert order_unaffected(A.ON_READER, A.FAILED)
    for before, after in [
        (A.ON_READER, A.AUTHORIZED),
        (A.ON_READER, A.CANCELED),
        (A.AUTHORIZED, A.CAPTURED),
        (A.CAPTURED, A.REFUNDED),
        (A.DECLINED, A.CANCELED),
    ]:
        assert not order_unaffected(before, after), (before, after)


def test_a_move_that_leaves_the_order_alone_changes_its_status_with_any_other_attempts() -> None:
    """Exhaustive over every move and every set of up to two other attempts: where
    `order_unaffected` says so, the order's status is the same before and after, and the
    attempt is not one an order takes its tip, totals and card from (authorized or settled)."""
    statuses = list(A)
    others = (
        [()] + [(s,) for s in statuses] + list(itertools.combinations_with_replacement(statuses, 2))
    )
    for before, after in itertools.product(statuses, repeat=2):
        if not order_unaffected(before, after):
            continue
        assert not {before, after} & (set(SETTLED) | {A.AUTHORIZED})
        for rest in others:
            assert order_status([*rest, before]) == order_status([*rest, after]), (
                before,
                after,
                rest,
            )
