"""Interac rules and reading what Stripe says about an in-person refund (pure)."""

from __future__ import annotations

from typing import Any

from countertop.domain.attempts import Attempt, AttemptStatus, Captured, Card, transition
from countertop.domain.in_person_refunds import (
    RefundOutcome,
    RefundStatus,
    capture_options,
    from_event,
    from_reader,
    from_refund,
    payment_method_types,
    refundable,
    refunded_in_person,
    settle,
)
from countertop.domain.observations import from_payment_intent
from tests.unit.test_attempt_transitions import NOW

S = RefundStatus


def reader(status: str, **details: Any) -> dict[str, Any]:
    return {
        "id": "tmr_1",
        "action": {
            "type": "refund_payment",
            "status": status,
            "failure_code": "card_declined" if status == "failed" else None,
            "failure_message": "The refund was declined." if status == "failed" else None,
            "refund_payment": {"payment_intent": "pi_1", "amount": 500, **details},
        },
    }


OURS = {"metadata": {"countertop_refund": "iprf_1", "order_id": "ord_1"}}


def test_interac_is_offered_for_canadian_dollars_only() -> None:
    assert payment_method_types("CAD") == ["card_present", "interac_present"]
    assert payment_method_types("usd") == ["card_present"]


def test_manual_capture_of_cards_moves_to_card_present_when_interac_is_offered() -> None:
    assert capture_options("cad", "manual") == (
        "automatic",
        {"card_present": {"capture_method": "manual"}},
    )
    assert capture_options("usd", "manual") == ("manual", None)
    assert capture_options("cad", "automatic") == ("automatic", None)


def test_only_an_interac_charge_is_refunded_in_person() -> None:
    interac = {"payment_method_details": {"type": "interac_present", "interac_present": {}}}
    card = {"payment_method_details": {"type": "card_present", "card_present": {}}}
    assert refunded_in_person(interac)
    assert not refunded_in_person(card)
    assert not refunded_in_person(None)
    assert not refunded_in_person({"payment_method_details": "odd"})


def test_refundable_is_captured_less_refunded_less_pending() -> None:
    charge = {"amount_captured": 3000, "amount_refunded": 1000}
    assert refundable(charge) == 2000
    assert refundable(charge, pending=1500) == 500
    assert refundable(charge, pending=2500) == 0
    assert refundable({}) == 0


def test_a_reader_shows_the_outcome_of_our_refund() -> None:
    done = from_reader(reader("succeeded", refund="re_9", **OURS))
    assert done == RefundOutcome("iprf_1", S.SUCCEEDED, refund="re_9")
    failed = from_reader(reader("failed", **OURS))
    assert failed is not None and failed.status is S.FAILED
    assert (failed.failure_code, failed.failure_message) == (
        "card_declined",
        "The refund was declined.",
    )
    assert from_reader(reader("in_progress", **OURS)) is None
    assert from_reader(reader("succeeded", refund="re_9")) is None  # not ours
    assert (
        from_reader({"action": {"type": "process_payment_intent", "status": "succeeded"}}) is None
    )
    assert from_reader({"action": None}) is None


def test_a_refund_object_names_our_refund_in_its_metadata() -> None:
    refund = {"id": "re_9", "status": "succeeded", **OURS}
    assert from_refund(refund) == RefundOutcome("iprf_1", S.SUCCEEDED, refund="re_9")
    assert from_refund({**refund, "status": "pending"}) is None
    failed = from_refund(
        {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    )
    assert failed is not None and failed.status is S.FAILED
    assert failed.failure_code == "expired_or_canceled_card"
    assert from_refund({"id": "re_1", "status": "succeeded", "metadata": {}}) is None


def test_events_of_either_kind_are_read_and_others_ignored() -> None:
    obj = reader("succeeded", refund="re_9", **OURS)
    assert from_event("terminal.reader.action_succeeded", obj) is not None
    assert from_event("refund.created", {"id": "re_9", "status": "succeeded", **OURS}) is not None
    assert from_event("charge.refunded", {"id": "ch_1", **OURS}) is None
    assert from_event("terminal.reader.updated", obj) is None


def test_only_a_pending_refund_changes_but_stripe_succeeding_always_wins() -> None:
    assert settle(S.PENDING, S.SUCCEEDED) is S.SUCCEEDED
    assert settle(S.PENDING, S.FAILED) is S.FAILED
    assert settle(S.SUCCEEDED, S.FAILED) is S.SUCCEEDED
    assert settle(S.SUCCEEDED, S.CANCELED) is S.SUCCEEDED
    assert settle(S.FAILED, S.CANCELED) is S.FAILED
    assert settle(S.CANCELED, S.SUCCEEDED) is S.SUCCEEDED  # tapped just before it was cleared


def test_an_interac_payment_goes_from_the_reader_to_captured_without_a_capture() -> None:
    attempt = Attempt(
        id="att_1",
        order_id="ord_1",
        amount=3000,
        currency="cad",
        status=AttemptStatus.ON_READER,
        reader="tmr_1",
        payment_intent="pi_1",
    )
    intent = {
        "id": "pi_1",
        "status": "succeeded",
        "amount": 3000,
        "amount_received": 3000,
        "latest_charge": {
            "amount_refunded": 0,
            "payment_method_details": {
                "type": "interac_present",
                "interac_present": {"brand": "interac", "last4": "1933"},
            },
        },
    }
    (observed,) = from_payment_intent(intent, 3000)
    assert observed == Captured(3000, 0, Card("interac", "1933"))
    state, effects = transition(attempt, observed, NOW)
    assert state.status is AttemptStatus.CAPTURED and state.amount_captured == 3000
    assert [type(e).__name__ for e in effects] == ["ReleaseReader"]  # no capture scheduled
    again, more = transition(state, observed, NOW)
    assert (again, more) == (state, ())
