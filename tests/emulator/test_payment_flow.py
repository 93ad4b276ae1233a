"""The simulated card-present flow: process, present, capture; declines; retries; tips; PINs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from countertop.emulator import cards
from tests.emulator.conftest import Stripe

NewIntent = Callable[..., Any]
Reader = Any


def event_types(client: Stripe, *ids: str) -> list[str]:
    """Types of the events about these objects, oldest first."""
    found = client.v1.events.list({"limit": 100})
    return [e.type for e in reversed(found.data) if e.data.object["id"] in ids]


def present(client: Stripe, reader: Reader, number: str | None = None, **extra: object) -> Reader:
    params: dict[str, object] = dict(extra)
    if number is not None:
        params["card_present"] = {"number": number}
    return client.v1.test_helpers.terminal.readers.present_payment_method(reader.id, params)


def test_manual_capture_flow_walks_stripes_states_and_events(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent(amount=1000, metadata={"order": "o-1"})
    assert pi.status == "requires_payment_method"
    assert pi.payment_method_types == pi.allowed_payment_method_types == ["card_present"]
    started = client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": pi.id}
    )
    assert started.action.type == "process_payment_intent"
    assert started.action.status == "in_progress"
    assert started.action.process_payment_intent.payment_intent == pi.id

    done = present(client, reader)
    assert done.action.status == "succeeded"

    pi = client.v1.payment_intents.retrieve(pi.id, {"expand": ["latest_charge"]})
    assert pi.status == "requires_capture"
    assert pi.amount_capturable == 1000
    charge = pi.latest_charge
    assert charge.object == "charge"
    assert (charge.status, charge.paid, charge.captured, charge.amount_captured) == (
        "succeeded",
        True,
        False,
        0,
    )
    details = charge.payment_method_details.card_present
    assert (details.brand, details.last4, details.read_method) == (
        "visa",
        "4242",
        "contactless_emv",
    )
    assert details.reader == reader.id
    assert details.capture_before > charge.created
    receipt = details.receipt
    for name in (
        "account_type",
        "application_cryptogram",
        "application_preferred_name",
        "authorization_code",
        "authorization_response_code",
        "cardholder_verification_method",
        "dedicated_file_name",
        "terminal_verification_results",
        "transaction_status_information",
    ):
        assert receipt[name], name

    captured = client.v1.payment_intents.capture(pi.id)
    assert captured.status == "succeeded"
    assert captured.amount_received == 1000
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.captured, charge.amount_captured) == (True, 1000)

    assert event_types(client, pi.id, charge.id, reader.id) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "terminal.reader.action_succeeded",
        "charge.captured",
        "payment_intent.succeeded",
    ]


def test_automatic_capture_succeeds_at_once(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent(amount=1500, capture_method="automatic")
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    present(client, reader)
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert (pi.status, pi.amount_received, pi.amount_capturable) == ("succeeded", 1500, 0)
    assert "payment_intent.succeeded" in event_types(client, pi.id)


def _decline_case(number: str) -> tuple[str, str | None]:
    card = cards.lookup(number)
    assert card is not None and card.decline is not None
    return card.decline


DECLINING_CARDS = [
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000000069",
    "4000000000000119",
]


@pytest.mark.parametrize("number", DECLINING_CARDS)
def test_each_declining_test_card(
    client: Stripe, reader: Reader, new_intent: NewIntent, number: str
) -> None:
    code, decline_code = _decline_case(number)
    pi = new_intent(amount=2000)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    done = present(client, reader, number)
    assert done.action.status == "failed"
    assert done.action.failure_code == "card_declined"
    assert done.action.failure_message
    assert done.action.api_error.code == code

    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method"
    assert pi.payment_method is None
    error = pi.last_payment_error
    assert (error.type, error.code, error.decline_code) == ("card_error", code, decline_code)
    assert error.message == done.action.failure_message
    assert error.payment_method.card_present.last4 == number[-4:]
    charge = client.v1.charges.retrieve(error.charge)
    assert (charge.status, charge.paid, charge.failure_code) == ("failed", False, code)
    assert pi.latest_charge == charge.id
    assert event_types(client, pi.id, charge.id, reader.id)[-3:] == [
        "charge.failed",
        "payment_intent.payment_failed",
        "terminal.reader.action_failed",
    ]


@pytest.mark.parametrize(("cents", "outcome"), sorted(cards.AMOUNT_DECLINES.items()))
def test_each_declining_amount_ending(
    client: Stripe,
    reader: Reader,
    new_intent: NewIntent,
    cents: int,
    outcome: tuple[str, str],
) -> None:
    pi = new_intent(amount=1000 + cents)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    assert present(client, reader).action.status == "failed"
    error = client.v1.payment_intents.retrieve(pi.id).last_payment_error
    assert (error.code, error.decline_code) == outcome


@pytest.mark.parametrize("number", sorted(cards._BRANDS))
def test_each_approving_test_card(
    client: Stripe, reader: Reader, new_intent: NewIntent, number: str
) -> None:
    brand = cards.lookup(number)
    assert brand is not None
    types = ["card_present", "interac_present"] if brand.brand == "interac" else ["card_present"]
    pi = new_intent(amount=1200, allowed_payment_method_types=types)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    assert present(client, reader, number).action.status == "succeeded"
    charge = client.v1.charges.retrieve(client.v1.payment_intents.retrieve(pi.id).latest_charge)
    method = charge.payment_method_details
    details = method.interac_present if brand.brand == "interac" else method.card_present
    assert (details.brand, details.last4, details.funding) == (
        brand.brand,
        number[-4:],
        brand.funding,
    )


@pytest.mark.parametrize(
    ("number", "verification"),
    [
        ("4001007020000002", "offline_pin"),
        ("4000008260000075", "offline_pin"),
        ("4001000360000005", "online_pin"),
        ("4000002760000008", "online_pin"),
    ],
)
def test_pin_cards_record_the_cardholder_verification(
    client: Stripe,
    reader: Reader,
    new_intent: NewIntent,
    number: str,
    verification: str,
) -> None:
    pi = new_intent(amount=1003)  # a PIN-prompting amount: the PIN card satisfies it
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    assert present(client, reader, number).action.status == "succeeded"
    charge = client.v1.charges.retrieve(client.v1.payment_intents.retrieve(pi.id).latest_charge)
    receipt = charge.payment_method_details.card_present.receipt
    assert receipt.cardholder_verification_method == verification


def test_retry_on_the_same_intent_after_a_decline(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent(amount=3000)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    present(client, reader, "4000000000009995")
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    assert present(client, reader).action.status == "succeeded"
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_capture"
    assert pi.last_payment_error is None
    charges = client.v1.charges.list({"payment_intent": pi.id})
    assert [c.status for c in charges.data] == ["succeeded", "failed"]


def test_tip_on_the_reader_is_added_to_the_amount(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent(amount=2000)
    client.v1.terminal.readers.process_payment_intent(
        reader.id,
        {"payment_intent": pi.id, "process_config": {"tipping": {"amount_eligible": 2000}}},
    )
    present(client, reader, amount_tip=300)
    pi = client.v1.payment_intents.retrieve(pi.id, {"expand": ["latest_charge"]})
    assert pi.amount == 2300
    assert pi.amount_details.tip.amount == 300
    assert pi.amount_capturable == 2300
    assert pi.latest_charge.amount == 2300


def test_skip_tipping_ignores_a_tip(client: Stripe, reader: Reader, new_intent: NewIntent) -> None:
    pi = new_intent(amount=2000)
    client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": pi.id, "process_config": {"skip_tipping": True}}
    )
    action = client.v1.terminal.readers.retrieve(reader.id).action
    assert action.process_payment_intent.process_config.skip_tipping is True
    present(client, reader, amount_tip=300)
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.amount == 2000
    assert pi.amount_details.tip.to_dict() == {}


def test_interac_is_captured_automatically(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent(
        amount=1800,
        allowed_payment_method_types=["card_present", "interac_present"],
        currency="cad",
    )
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(
        reader.id, {"type": "interac_present"}
    )
    pi = client.v1.payment_intents.retrieve(pi.id, {"expand": ["payment_method"]})
    assert pi.status == "succeeded"
    assert pi.payment_method.type == "interac_present"


def test_an_intent_not_awaiting_a_payment_method_is_refused(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    present(client, reader)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    assert raised.value.http_status == 400
    assert raised.value.code == "intent_invalid_state"
    assert "requires_payment_method" in raised.value.user_message


def test_a_waiting_payment_can_be_replaced_and_cancel_action_clears_the_reader(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    first, second = new_intent(), new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": first.id})
    replaced = client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": second.id}
    )
    assert replaced.action.process_payment_intent.payment_intent == second.id
    canceled = client.v1.terminal.readers.cancel_action(reader.id)
    assert canceled.action is None
    assert client.v1.payment_intents.retrieve(second.id).status == "requires_payment_method"
    with pytest.raises(stripe.InvalidRequestError):
        present(client, reader)


def test_cancel_an_authorized_intent_releases_the_charge(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    present(client, reader)
    canceled = client.v1.payment_intents.cancel(
        pi.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.canceled_at
    charge = client.v1.charges.retrieve(canceled.latest_charge)
    assert charge.refunded is True
    assert "payment_intent.canceled" in event_types(client, pi.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"


def test_partial_capture(client: Stripe, reader: Reader, new_intent: NewIntent) -> None:
    pi = new_intent(amount=5000)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    present(client, reader)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.capture(pi.id, {"amount_to_capture": 6000})
    assert raised.value.param == "amount_to_capture"
    captured = client.v1.payment_intents.capture(pi.id, {"amount_to_capture": 4000})
    assert (captured.status, captured.amount_received) == ("succeeded", 4000)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.capture(pi.id)
    assert again.value.code == "payment_intent_unexpected_state"


def test_present_without_parameters_uses_the_intents_default_card(
    client: Stripe, reader: Reader, new_intent: NewIntent
) -> None:
    interac_only = new_intent(
        amount=1700, currency="cad", allowed_payment_method_types=["interac_present"]
    )
    client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": interac_only.id}
    )
    present(client, reader)
    charge = client.v1.charges.retrieve(
        client.v1.payment_intents.retrieve(interac_only.id).latest_charge
    )
    details = charge.payment_method_details.interac_present
    assert (details.brand, details.last4, details.read_method) == ("interac", "1933", "contact_emv")
    both = new_intent(
        amount=1700,
        currency="cad",
        allowed_payment_method_types=["card_present", "interac_present"],
    )
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": both.id})
    present(client, reader)
    charge = client.v1.charges.retrieve(client.v1.payment_intents.retrieve(both.id).latest_charge)
    assert charge.payment_method_details.card_present.last4 == "4242"
