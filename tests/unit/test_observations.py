"""Reading Stripe's objects as state-machine observations."""

from __future__ import annotations

from countertop.domain.attempts import (
    Authorized,
    Canceled,
    Captured,
    Card,
    Declined,
    Failed,
    PaymentError,
    Refunded,
)
from countertop.domain.observations import (
    card_of,
    from_charge,
    from_failed_action,
    from_payment_intent,
    reader_action_for,
    tip_of,
)

CHARGE = {
    "id": "ch_1",
    "status": "succeeded",
    "amount": 1200,
    "captured": False,
    "amount_captured": 0,
    "amount_refunded": 0,
    "payment_method_details": {"card_present": {"brand": "visa", "last4": "4242"}},
}


def intent(status: str, **fields: object) -> dict[str, object]:
    return {"id": "pi_1", "status": status, "amount": 1000, **fields}


def test_an_authorized_payment_intent() -> None:
    pi = intent(
        "requires_capture",
        amount=1200,
        amount_capturable=1200,
        amount_details={"tip": {"amount": 200}},
        latest_charge=CHARGE,
    )
    assert from_payment_intent(pi, 1000) == [
        Authorized(amount=1200, tip=200, card=Card("visa", "4242"))
    ]


def test_a_captured_and_refunded_payment_intent() -> None:
    charge = {**CHARGE, "captured": True, "amount_captured": 1200, "amount_refunded": 500}
    pi = intent("succeeded", amount=1200, amount_received=1200, latest_charge=charge)
    assert from_payment_intent(pi, 1000) == [
        Captured(amount_captured=1200, tip=200, card=Card("visa", "4242")),
        Refunded(500),
    ]


def test_unsettled_payment_intents_say_nothing() -> None:
    for status in ("requires_payment_method", "requires_confirmation", "processing"):
        assert from_payment_intent(intent(status), 1000) == []
    assert from_payment_intent(intent("canceled"), 1000) == [Canceled()]


def test_tips_come_from_amount_details_or_the_amount_above_the_cart() -> None:
    assert tip_of({"amount": 1300, "amount_details": {"tip": {"amount": 250}}}, 1000) == 250
    assert tip_of({"amount": 1300, "amount_details": {"tip": {}}}, 1000) == 300
    assert tip_of({"amount": 1000}, 1000) == 0
    assert tip_of({"amount": 900}, 1000) == 0


def test_charges() -> None:
    assert from_charge(CHARGE, 1000) == [Authorized(1200, 200, Card("visa", "4242"))]
    captured = {**CHARGE, "captured": True, "amount_captured": 1200, "amount_refunded": 1200}
    assert from_charge(captured, 1000) == [
        Captured(1200, 200, Card("visa", "4242")),
        Refunded(1200),
    ]
    assert from_charge({**CHARGE, "status": "failed"}, 1000) == []
    assert card_of(None) is None and card_of({"payment_method_details": {}}) is None


def test_the_reader_action_for_a_payment_intent() -> None:
    action = {
        "type": "process_payment_intent",
        "status": "in_progress",
        "process_payment_intent": {"payment_intent": "pi_1"},
    }
    assert reader_action_for({"action": action}, "pi_1") == action
    assert reader_action_for({"action": action}, "pi_2") is None
    assert reader_action_for({"action": None}, "pi_1") is None
    display = {"type": "set_reader_display", "status": "succeeded"}
    assert reader_action_for({"action": display}, "pi_1") is None
    expanded = {**action, "process_payment_intent": {"payment_intent": {"id": "pi_1"}}}
    assert reader_action_for({"action": expanded}, "pi_1") == expanded


def test_a_failed_action_is_a_decline_or_a_failure() -> None:
    declined = {"status": "failed", "failure_code": "card_declined", "failure_message": "Declined"}
    last_error = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "NSF"}
    assert from_failed_action(declined, {"last_payment_error": last_error}) == Declined(
        PaymentError("card_declined", "NSF", "insufficient_funds")
    )
    assert from_failed_action(declined, None) == Declined(
        PaymentError("card_declined", "Declined", None)
    )
    canceled = {"status": "failed", "failure_code": "customer_canceled", "failure_message": "x"}
    assert from_failed_action(canceled, {}) == Failed(PaymentError("customer_canceled", "x"))
