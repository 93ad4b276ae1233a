"""Every (status, event) pair of the payment-attempt state machine, legal and illegal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from countertop.domain.attempts import (
    AttachPaymentIntent,
    Attempt,
    AttemptStatus,
    Authorized,
    Canceled,
    Captured,
    CaptureFailed,
    Card,
    CheckCancel,
    CheckCapture,
    Declined,
    DropCapture,
    Event,
    Failed,
    GivingUp,
    HandToReader,
    HoldReader,
    PaymentError,
    Refunded,
    ReleaseReader,
    ScheduleCapture,
    capture_backoff,
    event_name,
    transition,
)
from countertop.domain.errors import IllegalTransition

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
S = AttemptStatus
DECLINE = PaymentError("card_declined", "Your card was declined.", "insufficient_funds")
TIMEOUT = PaymentError("reader_action_timeout", "No card was presented.")
VISA = Card("visa", "4242")

EVENTS: dict[str, Event] = {
    "attach": AttachPaymentIntent("pi_other"),
    "hand": HandToReader("tmr_2"),
    "check_cancel": CheckCancel(),
    "check_capture": CheckCapture(),
    "giving_up": GivingUp(TIMEOUT),
    "authorized": Authorized(amount=1100, tip=100, card=VISA),
    "captured": Captured(amount_captured=1100, tip=100, card=VISA),
    "declined": Declined(DECLINE),
    "failed": Failed(TIMEOUT),
    "canceled": Canceled(),
    "capture_failed": CaptureFailed(PaymentError("api_error", "Stripe had a problem.")),
    "refunded": Refunded(amount_refunded=500),
}

ILLEGAL = "illegal"
SAME = "same"
R1 = ReleaseReader("tmr_1")
# status -> event -> (expected status or SAME or ILLEGAL, effects)
TABLE: dict[S, dict[str, tuple[object, tuple[object, ...]]]] = {
    S.CREATED: {
        "attach": (ILLEGAL, ()),
        "hand": (S.ON_READER, (HoldReader("tmr_2"),)),
        "check_cancel": (SAME, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (S.AUTHORIZED, (ScheduleCapture(NOW),)),
        "captured": (S.CAPTURED, ()),
        "declined": (S.DECLINED, ()),
        "failed": (S.FAILED, ()),
        "canceled": (S.CANCELED, ()),
        "capture_failed": (SAME, ()),
        "refunded": (SAME, ()),
    },
    S.ON_READER: {
        "attach": (ILLEGAL, ()),
        "hand": (ILLEGAL, ()),
        "check_cancel": (SAME, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (S.AUTHORIZED, (R1, ScheduleCapture(NOW))),
        "captured": (S.CAPTURED, (R1,)),
        "declined": (S.DECLINED, (R1,)),
        "failed": (S.FAILED, (R1,)),
        "canceled": (S.CANCELED, (R1,)),
        "capture_failed": (SAME, ()),
        "refunded": (SAME, ()),
    },
    S.AUTHORIZED: {
        "attach": (ILLEGAL, ()),
        "hand": (ILLEGAL, ()),
        "check_cancel": (SAME, ()),
        "check_capture": (SAME, ()),
        "giving_up": (SAME, ()),
        "authorized": (SAME, ()),
        "captured": (S.CAPTURED, (DropCapture(),)),
        "declined": (SAME, ()),
        "failed": (SAME, ()),
        "canceled": (S.CANCELED, (DropCapture(),)),
        "capture_failed": (S.AUTHORIZED, (ScheduleCapture(NOW + timedelta(seconds=1)),)),
        "refunded": (SAME, ()),
    },
    S.CAPTURED: {
        "attach": (ILLEGAL, ()),
        "hand": (ILLEGAL, ()),
        "check_cancel": (ILLEGAL, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (SAME, ()),
        "captured": (SAME, ()),
        "declined": (SAME, ()),
        "failed": (SAME, ()),
        "canceled": (SAME, ()),
        "capture_failed": (SAME, ()),
        "refunded": (S.PARTIALLY_REFUNDED, ()),
    },
    S.DECLINED: {
        "attach": (ILLEGAL, ()),
        "hand": (S.ON_READER, (HoldReader("tmr_2"),)),
        "check_cancel": (SAME, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (S.AUTHORIZED, (ScheduleCapture(NOW),)),
        "captured": (S.CAPTURED, ()),
        "declined": (S.DECLINED, ()),
        "failed": (S.FAILED, ()),
        "canceled": (S.CANCELED, ()),
        "capture_failed": (SAME, ()),
        "refunded": (SAME, ()),
    },
    S.FAILED: {
        "attach": (ILLEGAL, ()),
        "hand": (S.ON_READER, (HoldReader("tmr_2"),)),
        "check_cancel": (SAME, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (S.AUTHORIZED, (ScheduleCapture(NOW),)),
        "captured": (S.CAPTURED, ()),
        "declined": (S.DECLINED, ()),
        "failed": (S.FAILED, ()),
        "canceled": (S.CANCELED, ()),
        "capture_failed": (SAME, ()),
        "refunded": (SAME, ()),
    },
    S.CANCELED: {
        "attach": (ILLEGAL, ()),
        "hand": (ILLEGAL, ()),
        "check_cancel": (ILLEGAL, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (SAME, ()),
        "captured": (SAME, ()),
        "declined": (SAME, ()),
        "failed": (SAME, ()),
        "canceled": (SAME, ()),
        "capture_failed": (SAME, ()),
        "refunded": (SAME, ()),
    },
    S.PARTIALLY_REFUNDED: {
        "attach": (ILLEGAL, ()),
        "hand": (ILLEGAL, ()),
        "check_cancel": (ILLEGAL, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (SAME, ()),
        "captured": (SAME, ()),
        "declined": (SAME, ()),
        "failed": (SAME, ()),
        "canceled": (SAME, ()),
        "capture_failed": (SAME, ()),
        "refunded": (S.PARTIALLY_REFUNDED, ()),
    },
    S.REFUNDED: {
        "attach": (ILLEGAL, ()),
        "hand": (ILLEGAL, ()),
        "check_cancel": (ILLEGAL, ()),
        "check_capture": (ILLEGAL, ()),
        "giving_up": (SAME, ()),
        "authorized": (SAME, ()),
        "captured": (SAME, ()),
        "declined": (SAME, ()),
        "failed": (SAME, ()),
        "canceled": (SAME, ()),
        "capture_failed": (SAME, ()),
        "refunded": (SAME, ()),
    },
}


def attempt_in(status: S) -> Attempt:
    settled = status in (S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED)
    return Attempt(
        id="att_1",
        order_id="ord_1",
        amount=1000,
        currency="usd",
        status=status,
        reader="tmr_1",
        payment_intent="pi_1",
        tip=100 if status is S.AUTHORIZED or settled else 0,
        amount_captured=1100 if settled else 0,
        amount_refunded={S.PARTIALLY_REFUNDED: 200, S.REFUNDED: 1100}.get(status, 0),
        card=VISA if status is S.AUTHORIZED or settled else None,
    )


def test_the_table_covers_every_status_and_event() -> None:
    assert set(TABLE) == set(S)
    for row in TABLE.values():
        assert set(row) == set(EVENTS)


CASES = [(status, name) for status in S for name in EVENTS]


@pytest.mark.parametrize(("status", "name"), CASES, ids=[f"{s.value}-{n}" for s, n in CASES])
def test_transition(status: S, name: str) -> None:
    state = attempt_in(status)
    expected, effects = TABLE[status][name]
    if expected == ILLEGAL:
        with pytest.raises(IllegalTransition) as raised:
            transition(state, EVENTS[name], NOW)
        assert raised.value.status == status
        return
    new, got = transition(state, EVENTS[name], NOW)
    assert new.status == (status if expected == SAME else expected)
    assert got == effects
    waiting = name == "giving_up" and status in (S.CREATED, S.ON_READER)  # keeps its reason
    if expected == SAME and name != "capture_failed" and not waiting:
        assert new == state, "an event that changes nothing must leave the state untouched"


def test_attach_sets_the_payment_intent_once() -> None:
    fresh = replace(attempt_in(S.CREATED), payment_intent=None)
    attached, effects = transition(fresh, AttachPaymentIntent("pi_9"), NOW)
    assert attached.payment_intent == "pi_9" and effects == ()
    again, _ = transition(attached, AttachPaymentIntent("pi_9"), NOW)
    assert again == attached
    with pytest.raises(IllegalTransition):
        transition(attached, AttachPaymentIntent("pi_10"), NOW)


def test_a_reader_gets_nothing_without_a_payment_intent() -> None:
    fresh = replace(attempt_in(S.CREATED), payment_intent=None)
    with pytest.raises(IllegalTransition):
        transition(fresh, HandToReader("tmr_1"), NOW)


def test_retry_after_a_decline_reuses_the_payment_intent_and_counts() -> None:
    state = attempt_in(S.ON_READER)
    declined, _ = transition(state, Declined(DECLINE), NOW)
    assert declined.last_error == DECLINE and declined.process_count == 0
    retried, effects = transition(declined, HandToReader("tmr_1"), NOW)
    assert retried.status is S.ON_READER
    assert retried.payment_intent == "pi_1"
    assert retried.process_count == 1 and retried.last_error is None
    assert retried.sent_at == NOW
    assert effects == (HoldReader("tmr_1"),)


def test_the_tip_is_written_once() -> None:
    state = attempt_in(S.ON_READER)
    authorized, _ = transition(state, Authorized(amount=1150, tip=150, card=VISA), NOW)
    assert authorized.tip == 150 and authorized.card == VISA
    # a repeated or late report with another tip changes nothing
    again, effects = transition(authorized, Authorized(amount=1300, tip=300), NOW)
    assert again == authorized and effects == ()
    captured, _ = transition(authorized, Captured(amount_captured=1150), NOW)
    assert captured.tip == 150 and captured.amount_captured == 1150 and captured.card == VISA
    late, _ = transition(captured, Captured(amount_captured=1150, tip=150), NOW)
    assert late == captured


def test_no_capture_is_scheduled_when_capture_is_manual() -> None:
    state = replace(attempt_in(S.ON_READER), auto_capture=False)
    authorized, effects = transition(state, Authorized(amount=1000), NOW)
    assert authorized.status is S.AUTHORIZED
    assert effects == (ReleaseReader("tmr_1"),)


def test_capture_failures_back_off_and_a_capture_clears_the_error() -> None:
    state = attempt_in(S.AUTHORIZED)
    error = PaymentError("api_error", "boom")
    for failures in range(1, 5):
        state, effects = transition(state, CaptureFailed(error), NOW)
        assert state.capture_failures == failures and state.capture_error == error
        assert effects == (ScheduleCapture(NOW + capture_backoff(failures)),)
    assert capture_backoff(1) < capture_backoff(2) < capture_backoff(3)
    assert capture_backoff(50) == timedelta(minutes=10)
    captured, _ = transition(state, Captured(amount_captured=1100), NOW)
    assert captured.status is S.CAPTURED and captured.capture_error is None


def test_a_late_decline_never_undoes_a_payment() -> None:
    for status in (S.AUTHORIZED, S.CAPTURED, S.REFUNDED):
        state = attempt_in(status)
        assert transition(state, Declined(DECLINE), NOW) == (state, ())


def test_refunds_partial_then_full() -> None:
    state = attempt_in(S.CAPTURED)
    partial, _ = transition(state, Refunded(400), NOW)
    assert partial.status is S.PARTIALLY_REFUNDED and partial.amount_refunded == 400
    stale, _ = transition(partial, Refunded(300), NOW)
    assert stale == partial
    full, _ = transition(partial, Refunded(1100), NOW)
    assert full.status is S.REFUNDED and full.amount_refunded == 1100


@pytest.mark.parametrize("status", [S.CREATED, S.ON_READER])
def test_giving_up_keeps_its_reason_whichever_report_of_the_cancel_comes_first(status: S) -> None:
    waiting, _ = transition(attempt_in(status), GivingUp(TIMEOUT), NOW)
    assert (waiting.status, waiting.last_error, waiting.reader) == (status, TIMEOUT, "tmr_1")
    # Stripe's payment_intent.canceled first, then the answer to the cancel (failed, canceled):
    for order in ([Canceled(), Failed(TIMEOUT), Canceled()], [Failed(TIMEOUT), Canceled()]):
        state = waiting
        for event in order:
            state, _ = transition(state, event, NOW)
        assert (state.status, state.last_error) == (S.CANCELED, TIMEOUT)


def test_a_card_presented_while_giving_up_wins_and_clears_the_reason() -> None:
    waiting, _ = transition(attempt_in(S.ON_READER), GivingUp(TIMEOUT), NOW)
    paid, effects = transition(waiting, Authorized(amount=1000, card=VISA), NOW)
    assert (paid.status, paid.last_error) == (S.AUTHORIZED, None)
    assert effects == (R1, ScheduleCapture(NOW))
    assert transition(paid, GivingUp(TIMEOUT), NOW) == (paid, ())


def test_event_names() -> None:
    assert event_name(HandToReader("tmr_1")) == "hand_to_reader"
    assert event_name(CaptureFailed(DECLINE)) == "capture_failed"
    assert event_name(Authorized(1)) == "authorized"


LATE = [
    (status, name)
    for status in (S.AUTHORIZED, S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED)
    for name in ("authorized", "captured")
    if (status, name) != (S.AUTHORIZED, "captured")  # that one is the capture itself
]


@pytest.mark.parametrize(("status", "name"), LATE, ids=[f"{s.value}-{n}" for s, n in LATE])
def test_a_late_report_names_a_card_not_known_yet_and_changes_nothing_else(
    status: S, name: str
) -> None:
    # Webhooks come in any order: the payment may have gone through on reports without the card.
    unknown = replace(attempt_in(status), card=None)
    new, effects = transition(unknown, EVENTS[name], NOW)
    assert new == replace(unknown, card=VISA) and effects == ()
    known = replace(unknown, card=Card("mastercard", "4444"))
    assert transition(known, EVENTS[name], NOW) == (known, ())


@pytest.mark.parametrize("name", ["authorized", "captured"])
def test_a_late_report_gives_no_card_to_a_canceled_payment(name: str) -> None:
    state = attempt_in(S.CANCELED)
    assert transition(state, EVENTS[name], NOW) == (state, ())
