from __future__ import annotations

from dataclasses import replace
from typing import Any

from countertop.domain.reconciliation import (
    CARD_PRESENT_AUTH_SECONDS,
    ChargeSnapshot,
    Fix,
    IntentSnapshot,
    Kind,
    OrderSnapshot,
    Report,
    reconcile,
)

DAY = 86400
START = 1_795_000_000
END = START + DAY
AS_OF = END + 3600  # the run starts an hour after the window closes


def charge(
    pi: str, *, captured: bool, amount: int = 1000, refunded: int = 0, created: int = START + 60
) -> ChargeSnapshot:
    return ChargeSnapshot(
        id="ch_" + pi.removeprefix("pi_"),
        status="succeeded",
        captured=captured,
        amount=amount,
        amount_captured=amount if captured else 0,
        amount_refunded=refunded,
        created=created,
    )


def authorized(pi: str, order: str | None, amount: int = 1000, **kw: Any) -> IntentSnapshot:
    return IntentSnapshot(
        id=pi,
        status="requires_capture",
        amount=amount,
        currency="usd",
        created=kw.pop("created", START + 60),
        amount_capturable=amount,
        order_id=order,
        charge=charge(pi, captured=False, amount=amount),
        **kw,
    )


def captured(
    pi: str, order: str | None, amount: int = 1000, tip: int = 0, refunded: int = 0
) -> IntentSnapshot:
    return IntentSnapshot(
        id=pi,
        status="succeeded",
        amount=amount,
        currency="usd",
        created=START + 60,
        amount_received=amount,
        tip=tip,
        order_id=order,
        charge=charge(pi, captured=True, amount=amount, refunded=refunded),
    )


def waiting(pi: str, order: str | None) -> IntentSnapshot:
    return IntentSnapshot(
        id=pi,
        status="requires_payment_method",
        amount=1000,
        currency="usd",
        created=START + 60,
        order_id=order,
    )


def order(oid: str, status: str, *pis: str, total: int = 1000, **kw: Any) -> OrderSnapshot:
    captured_amount = total if status in {"paid", "partially_refunded", "refunded"} else 0
    return OrderSnapshot(
        id=oid,
        status=status,
        currency="usd",
        total=total,
        tip=kw.pop("tip", 0),
        amount_captured=kw.pop("amount_captured", captured_amount),
        amount_refunded=kw.pop("amount_refunded", 0),
        payment_intents=pis,
        **kw,
    )


def run(intents: list[IntentSnapshot], orders: list[OrderSnapshot], **kw: Any) -> Report:
    return reconcile(intents, orders, start=START, end=END, as_of=AS_OF, **kw)


def kinds(report: Report) -> list[tuple[str, str | None]]:
    return [(d.kind.value, d.payment_intent) for d in report.discrepancies]


def test_a_day_where_everything_matches_is_clean() -> None:
    report = run(
        [captured("pi_1", "ord_1", 1200, tip=200), captured("pi_2", "ord_2", refunded=400)],
        [
            order("ord_1", "paid", "pi_1", total=1200, tip=200),
            order("ord_2", "partially_refunded", "pi_2", amount_refunded=400),
            order("ord_3", "open"),
        ],
    )
    assert report.clean
    assert (report.payment_intents_checked, report.orders_checked) == (2, 3)
    assert report.fixes == []


def test_uncaptured_authorization_of_a_completed_order_is_captured_with_its_time_left() -> None:
    intent = authorized("pi_1", "ord_1")
    assert intent.charge is not None
    intent = replace(intent, charge=replace(intent.charge, capture_before=START + 5 * DAY))
    report = run([intent], [order("ord_1", "authorized", "pi_1")])
    [found] = report.discrepancies
    assert found.kind == Kind.UNCAPTURED
    assert found.capture_before == START + 5 * DAY
    assert found.seconds_left == START + 5 * DAY - AS_OF
    assert found.fix == Fix("capture", "pi_1")


def test_time_left_falls_back_to_the_two_day_card_present_window() -> None:
    intent = replace(authorized("pi_1", "ord_1"), charge=None)
    [found] = run([intent], [order("ord_1", "authorized", "pi_1")]).discrepancies
    assert found.capture_before == intent.created + CARD_PRESENT_AUTH_SECONDS


def test_capture_takes_only_the_order_total_when_more_was_authorized() -> None:
    [found] = run(
        [authorized("pi_1", "ord_1", 1500)], [order("ord_1", "authorized", "pi_1", total=1000)]
    ).discrepancies
    assert found.fix == Fix("capture", "pi_1", amount_to_capture=1000)


def test_order_total_above_the_authorization_is_reported_not_captured() -> None:
    [found] = run(
        [authorized("pi_1", "ord_1", 800)], [order("ord_1", "authorized", "pi_1", total=1000)]
    ).discrepancies
    assert found.kind == Kind.AMOUNT_MISMATCH
    assert (found.expected, found.actual, found.fix) == (1000, 800, None)


def test_capture_that_failed_is_reported_and_retried() -> None:
    report = run(
        [authorized("pi_1", "ord_1"), authorized("pi_2", "ord_2")],
        [
            order("ord_1", "authorized", "pi_1", capture_error="api_connection_error"),
            order("ord_2", "paid", "pi_2"),  # marked paid though Stripe never captured
        ],
    )
    assert kinds(report) == [("failed_capture", "pi_1"), ("failed_capture", "pi_2")]
    assert [f.action for f in report.fixes] == ["capture", "capture"]
    assert "api_connection_error" in report.discrepancies[0].detail


def test_authorization_for_a_canceled_order_is_canceled_as_abandoned() -> None:
    report = run(
        [authorized("pi_1", "ord_1"), waiting("pi_2", "ord_2")],
        [order("ord_1", "canceled", "pi_1"), order("ord_2", "canceled", "pi_2")],
    )
    assert kinds(report) == [
        ("abandoned_payment_intent", "pi_1"),
        ("abandoned_payment_intent", "pi_2"),
    ]
    assert report.fixes == [
        Fix("cancel", "pi_1", cancellation_reason="abandoned"),
        Fix("cancel", "pi_2", cancellation_reason="abandoned"),
    ]
    assert report.discrepancies[0].actual == 1000  # the amount held on the card


def test_authorization_on_an_unfinished_order_is_reported_without_a_fix() -> None:
    [found] = run(
        [authorized("pi_1", "ord_1")], [order("ord_1", "in_payment", "pi_1")]
    ).discrepancies
    assert found.kind == Kind.UNCAPTURED
    assert found.fix is None
    assert "in_payment" in found.detail


def test_orphans_are_canceled_when_open_and_reported_when_captured() -> None:
    report = run(
        [authorized("pi_1", None), waiting("pi_2", "ord_gone"), captured("pi_3", None)],
        [],
    )
    assert kinds(report) == [
        ("orphan_payment_intent", "pi_1"),
        ("orphan_payment_intent", "pi_2"),
        ("orphan_payment_intent", "pi_3"),
    ]
    assert [f.payment_intent for f in report.fixes] == ["pi_1", "pi_2"]
    assert report.discrepancies[2].fix is None


def test_intent_found_through_metadata_belongs_to_its_order() -> None:
    report = run([captured("pi_1", "ord_1")], [order("ord_1", "paid")])
    assert report.clean


def test_paid_order_with_no_captured_charge() -> None:
    report = run(
        [
            IntentSnapshot(
                "pi_1",
                "canceled",
                1000,
                "usd",
                START + 60,
                order_id="ord_1",
                cancellation_reason="requested_by_customer",
            )
        ],
        [order("ord_1", "paid", "pi_1"), order("ord_2", "paid", "pi_missing")],
    )
    assert kinds(report) == [
        ("paid_without_capture", "pi_1"),
        ("paid_without_capture", "pi_missing"),
    ]
    assert report.fixes == []


def test_expired_authorization_is_reported_as_lost() -> None:
    intent = IntentSnapshot(
        "pi_1", "canceled", 1000, "usd", START + 60, order_id="ord_1", cancellation_reason="expired"
    )
    [found] = run([intent], [order("ord_1", "authorized", "pi_1")]).discrepancies
    assert found.kind == Kind.EXPIRED_AUTHORIZATION and found.fix is None


def test_amount_tip_and_refund_mismatches() -> None:
    report = run(
        [captured("pi_1", "ord_1", 1300, tip=300), captured("pi_2", "ord_2", refunded=500)],
        [
            order("ord_1", "paid", "pi_1", total=1200, tip=200),
            order("ord_2", "paid", "pi_2"),
        ],
    )
    assert kinds(report) == [
        ("amount_mismatch", "pi_1"),
        ("refund_mismatch", "pi_2"),
        ("tip_mismatch", "pi_1"),
    ]
    by_kind = {d.kind: d for d in report.discrepancies}
    assert (by_kind[Kind.AMOUNT_MISMATCH].expected, by_kind[Kind.AMOUNT_MISMATCH].actual) == (
        1200,
        1300,
    )
    assert (by_kind[Kind.TIP_MISMATCH].expected, by_kind[Kind.TIP_MISMATCH].actual) == (200, 300)
    assert (by_kind[Kind.REFUND_MISMATCH].expected, by_kind[Kind.REFUND_MISMATCH].actual) == (
        0,
        500,
    )
    assert report.fixes == []


def test_capture_our_books_never_saw() -> None:
    [found] = run([captured("pi_1", "ord_1")], [order("ord_1", "authorized", "pi_1")]).discrepancies
    assert found.kind == Kind.UNRECORDED_CAPTURE and found.fix is None


def test_second_authorization_for_a_paid_order_is_canceled_as_duplicate() -> None:
    report = run(
        [captured("pi_1", "ord_1"), authorized("pi_2", "ord_1"), waiting("pi_3", "ord_1")],
        [order("ord_1", "paid", "pi_1", "pi_2", "pi_3")],
    )
    assert kinds(report) == [("abandoned_payment_intent", "pi_3"), ("duplicate_payment", "pi_2")]
    assert {f.payment_intent: f.cancellation_reason for f in report.fixes} == {
        "pi_2": "duplicate",
        "pi_3": "abandoned",
    }


def test_payments_still_settling_are_left_alone() -> None:
    fresh = AS_OF - 60
    report = run(
        [authorized("pi_1", "ord_1", created=fresh), authorized("pi_2", None, created=fresh)],
        [order("ord_1", "in_payment", "pi_1")],
    )
    assert report.clean


def test_orphans_outside_the_window_are_not_reported() -> None:
    report = run([authorized("pi_1", None, created=START - 10)], [])
    assert report.clean


def test_snapshots_read_the_api_shape() -> None:
    intent = IntentSnapshot.from_stripe(
        {
            "id": "pi_1",
            "object": "payment_intent",
            "status": "requires_capture",
            "amount": 1500,
            "amount_capturable": 1500,
            "amount_received": 0,
            "amount_details": {"tip": {"amount": 200}},
            "currency": "usd",
            "created": START,
            "metadata": {"order_id": "ord_1"},
            "latest_charge": {
                "id": "ch_1",
                "status": "succeeded",
                "captured": False,
                "amount": 1500,
                "amount_captured": 0,
                "amount_refunded": 0,
                "created": START,
                "payment_method_details": {
                    "type": "card_present",
                    "card_present": {"capture_before": START + 99},
                },
            },
        }
    )
    assert (intent.tip, intent.order_id, intent.amount_capturable) == (200, "ord_1", 1500)
    assert intent.charge is not None and intent.charge.deadline == START + 99
    bare = IntentSnapshot.from_stripe(
        {"id": "pi_2", "status": "canceled", "latest_charge": "ch_2", "metadata": {}}
    )
    assert bare.charge is None and bare.order_id is None


def test_report_serialises_to_plain_json_types() -> None:
    report = run([authorized("pi_1", None)], [])
    body = report.to_dict()
    assert body["clean"] is False
    assert body["discrepancies"][0]["kind"] == "orphan_payment_intent"
    assert body["discrepancies"][0]["fix"] == {
        "action": "cancel",
        "payment_intent": "pi_1",
        "amount_to_capture": None,
        "cancellation_reason": "abandoned",
    }
