"""Locations, readers, configurations, tokens, setup intents, inputs, collect+confirm, refunds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.emulator.conftest import Stripe

NewIntent = Callable[..., Any]


def _paid(
    client: Stripe,
    reader: Any,
    new_intent: NewIntent,
    amount: int = 5000,
    number: str | None = None,
    **extra: Any,
) -> Any:
    pi = new_intent(amount=amount, **extra)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    params = {"card_present": {"number": number}} if number else {}
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id, params)
    return client.v1.payment_intents.capture(pi.id)


def test_location_crud(client: Stripe) -> None:
    created = client.v1.terminal.locations.create(
        {
            "display_name": "Pier 3",
            "address": {"line1": "3 Pier", "city": "SF", "country": "US"},
            "metadata": {"k": "v"},
        }
    )
    assert created.id.startswith("tml_")
    assert created.address.postal_code is None
    updated = client.v1.terminal.locations.update(
        created.id, {"display_name": "Pier 4", "address": {"city": "Oakland"}}
    )
    assert (updated.display_name, updated.address.city, updated.address.line1) == (
        "Pier 4",
        "Oakland",
        "3 Pier",
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.terminal.locations.update(created.id, {"address": {"country": "CA"}})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.terminal.locations.create({"display_name": "No address"})
    assert missing.value.param == "address"
    assert client.v1.terminal.locations.retrieve(created.id).display_name == "Pier 4"
    assert client.v1.terminal.locations.delete(created.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.terminal.locations.retrieve(created.id)


@pytest.mark.parametrize(
    ("code", "device_type"),
    [
        ("simulated-wpe", "simulated_wisepos_e"),
        ("simulated-s700", "simulated_stripe_s700"),
        ("simulated-s710", "simulated_stripe_s710"),
        ("simulated-v660p", "simulated_verifone_v660p"),
    ],
)
def test_registration_codes_give_simulated_readers(
    client: Stripe, location: Any, code: str, device_type: str
) -> None:
    reader = client.v1.terminal.readers.create({"registration_code": code, "location": location.id})
    assert reader.device_type == device_type
    assert reader.status == "online"
    assert reader.label == code
    assert reader.ip_address == "0.0.0.0"
    assert reader.device_sw_version
    assert len(reader.serial_number) == 36
    assert reader.last_seen_at > time.time() * 1000 - 60_000
    assert reader.action is None


def test_unknown_registration_code(client: Stripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.create({"registration_code": "purple-monkey"})
    assert raised.value.param == "registration_code"


def test_reader_update_delete_and_list_filters(client: Stripe, location: Any) -> None:
    other = client.v1.terminal.locations.create(
        {"display_name": "Annex", "address": {"country": "US"}}
    )
    s710 = client.v1.terminal.readers.create(
        {"registration_code": "simulated-s710", "location": other.id}
    )
    updated = client.v1.terminal.readers.update(
        s710.id, {"label": "Front", "metadata": {"till": "1"}}
    )
    assert (updated.label, updated.metadata.to_dict()) == ("Front", {"till": "1"})
    at_other = client.v1.terminal.readers.list({"location": other.id})
    assert [r.id for r in at_other.data] == [s710.id]
    by_type = client.v1.terminal.readers.list(
        {"device_type": "simulated_stripe_s710", "limit": 100}
    )
    assert s710.id in [r.id for r in by_type.data]
    assert all(r.device_type == "simulated_stripe_s710" for r in by_type.data)
    assert [
        r.id for r in client.v1.terminal.readers.list({"serial_number": s710.serial_number}).data
    ] == [s710.id]
    assert client.v1.terminal.readers.delete(s710.id).deleted is True
    assert client.v1.terminal.readers.list({"location": other.id}).data == []


def test_set_reader_display(client: Stripe, reader: Any) -> None:
    shown = client.v1.terminal.readers.set_reader_display(
        reader.id,
        {
            "type": "cart",
            "cart": {
                "currency": "usd",
                "line_items": [{"amount": 500, "description": "Latte", "quantity": 2}],
                "tax": 80,
                "total": 1080,
            },
        },
    )
    assert (shown.action.type, shown.action.status) == ("set_reader_display", "in_progress")
    cart = shown.action.set_reader_display.cart
    assert (cart.total, cart.tax, cart.line_items[0].description) == (1080, 80, "Latte")
    deadline = time.monotonic() + 5
    while client.v1.terminal.readers.retrieve(reader.id).action.status != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not [
        e for e in client.v1.events.list({"limit": 3}).data if e.data.object["id"] == reader.id
    ]


def test_collect_then_confirm(client: Stripe, reader: Any, new_intent: NewIntent) -> None:
    pi = new_intent(amount=4200)
    started = client.v1.terminal.readers.collect_payment_method(
        reader.id, {"payment_intent": pi.id}
    )
    assert started.action.type == "collect_payment_method"
    collected = client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    assert collected.action.collect_payment_method.payment_method.type == "card_present"
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_confirmation"
    confirmed = client.v1.terminal.readers.confirm_payment_intent(
        reader.id, {"payment_intent": pi.id}
    )
    assert (confirmed.action.type, confirmed.action.status) == (
        "confirm_payment_intent",
        "succeeded",
    )
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_capture"
    types = [e.type for e in client.v1.events.list({"limit": 5}).data]
    assert "terminal.reader.action_updated" in types
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.confirm_payment_intent(reader.id, {"payment_intent": pi.id})
    assert raised.value.code == "intent_invalid_state"


def test_cancel_after_collect_returns_the_intent(
    client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.collect_payment_method(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    assert client.v1.terminal.readers.cancel_action(reader.id).action is None
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert (pi.status, pi.payment_method) == ("requires_payment_method", None)


def test_collect_inputs_succeed_and_timeout(client: Stripe, reader: Any) -> None:
    inputs = [
        {"type": "email", "custom_text": {"title": "Receipt email"}, "required": True},
        {"type": "numeric", "custom_text": {"title": "Table"}},
        {
            "type": "selection",
            "custom_text": {"title": "Survey"},
            "selection": {
                "choices": [
                    {"id": "yes", "text": "Yes", "style": "primary"},
                    {"id": "no", "text": "No"},
                ]
            },
        },
    ]
    started = client.v1.terminal.readers.collect_inputs(
        reader.id, {"inputs": inputs, "metadata": {"step": "1"}}
    )
    assert (started.action.type, started.action.status) == ("collect_inputs", "in_progress")
    done = client.v1.test_helpers.terminal.readers.succeed_input_collection(
        reader.id, {"skip_non_required_inputs": "all"}
    )
    first, second, third = done.action.collect_inputs.inputs
    assert done.action.status == "succeeded"
    assert first.email.value
    assert (second.skipped, third.skipped) == (True, True)

    client.v1.terminal.readers.collect_inputs(reader.id, {"inputs": inputs[:1]})
    timed_out = client.v1.test_helpers.terminal.readers.timeout_input_collection(reader.id)
    assert (timed_out.action.status, timed_out.action.failure_code) == (
        "failed",
        "collect_inputs_timeout",
    )
    assert timed_out.action.collect_inputs.inputs[0].email is None


def test_process_setup_intent(client: Stripe, reader: Any) -> None:
    setup = client.v1.setup_intents.create({"payment_method_types": ["card_present"]})
    assert setup.status == "requires_payment_method"
    started = client.v1.terminal.readers.process_setup_intent(
        reader.id, {"setup_intent": setup.id, "allow_redisplay": "always"}
    )
    assert started.action.type == "process_setup_intent"
    done = client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    generated = done.action.process_setup_intent.generated_card
    assert done.action.status == "succeeded"
    card = client.v1.payment_methods.retrieve(generated)
    assert (card.type, card.allow_redisplay) == ("card", "always")
    assert client.v1.setup_intents.retrieve(setup.id).status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.terminal.readers.process_setup_intent(reader.id, {"setup_intent": setup.id})
    assert missing.value.param == "allow_redisplay"
    older = client.v1.setup_intents.create({"payment_method_types": ["card_present"]})
    started = client.v1.terminal.readers.process_setup_intent(
        reader.id, {"setup_intent": older.id, "customer_consent_collected": True}
    )
    assert started.action.process_setup_intent.to_dict() == {"setup_intent": older.id}


def test_setup_intent_with_a_declining_card_fails_authentication(
    client: Stripe, reader: Any
) -> None:
    setup = client.v1.setup_intents.create({"payment_method_types": ["card_present"]})
    client.v1.terminal.readers.process_setup_intent(
        reader.id, {"setup_intent": setup.id, "allow_redisplay": "limited"}
    )
    done = client.v1.test_helpers.terminal.readers.present_payment_method(
        reader.id, {"card_present": {"number": "4000000000000002"}}
    )
    assert done.action.failure_code == "setup_intent_authentication_failure"
    assert (
        client.v1.setup_intents.retrieve(setup.id).last_setup_error.code
        == "setup_intent_authentication_failure"
    )


def test_configurations_keep_their_settings(client: Stripe) -> None:
    config = client.v1.terminal.configurations.create(
        {
            "name": "Cafe",
            "tipping": {"usd": {"percentages": [15, 18, 20], "smart_tip_threshold": 1000}},
            "reboot_window": {"start_hour": 1, "end_hour": 3},
            "stripe_s700": {"splashscreen": "file_123"},
        }
    )
    assert config.id.startswith("tmc_")
    fetched = client.v1.terminal.configurations.retrieve(config.id)
    assert fetched.tipping.usd.percentages == [15, 18, 20]
    assert fetched.tipping.usd.smart_tip_threshold == 1000
    assert (fetched.reboot_window.start_hour, fetched.reboot_window.end_hour) == (1, 3)
    assert fetched.stripe_s700.splashscreen == "file_123"
    updated = client.v1.terminal.configurations.update(
        config.id, {"reboot_window": {"start_hour": 2, "end_hour": 4}}
    )
    assert updated.reboot_window.start_hour == 2
    assert config.id in [c.id for c in client.v1.terminal.configurations.list().data]
    location = client.v1.terminal.locations.create(
        {"display_name": "Cafe", "address": {"country": "US"}, "configuration_overrides": config.id}
    )
    assert location.configuration_overrides == config.id
    assert client.v1.terminal.configurations.delete(config.id).deleted is True


def test_connection_token(client: Stripe, location: Any) -> None:
    token = client.v1.terminal.connection_tokens.create({"location": location.id})
    assert token.secret.startswith("pst_test_")
    assert token.location == location.id


def test_card_not_present_confirm(client: Stripe) -> None:
    pi = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert pi.status == "succeeded"
    assert client.v1.payment_methods.retrieve(pi.payment_method).card.last4 == "4242"
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            {
                "amount": 2000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )
    assert raised.value.http_status == 402
    error: Any = raised.value.error
    assert (raised.value.code, error.decline_code) == ("card_declined", "insufficient_funds")
    declined = client.v1.payment_intents.retrieve(error.payment_intent.id)
    assert declined.status == "requires_payment_method"
    manual = client.v1.payment_intents.create(
        {"amount": 2100, "currency": "usd", "capture_method": "manual"}
    )
    assert (
        client.v1.payment_intents.confirm(
            manual.id, {"payment_method": "pm_card_mastercard"}
        ).status
        == "requires_capture"
    )


def test_update_and_list_payment_intents(client: Stripe, new_intent: NewIntent) -> None:
    pi = new_intent(amount=1000)
    updated = client.v1.payment_intents.update(pi.id, {"amount": 1500, "description": "Table 4"})
    assert (updated.amount, updated.description) == (1500, "Table 4")
    assert client.v1.payment_intents.list({"limit": 1}).data[0].id == pi.id


def test_partial_and_full_refunds(client: Stripe, reader: Any, new_intent: NewIntent) -> None:
    pi = _paid(client, reader, new_intent, amount=5000)
    part = client.v1.refunds.create(
        {"payment_intent": pi.id, "amount": 2000, "reason": "requested_by_customer"}
    )
    assert (part.status, part.amount, part.charge) == ("succeeded", 2000, pi.latest_charge)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (2000, False)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create({"charge": charge.id, "amount": 3001})
    assert too_much.value.param == "amount"
    rest = client.v1.refunds.create({"charge": charge.id})
    assert rest.amount == 3000
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)
    assert [r.id for r in client.v1.refunds.list({"charge": charge.id}).data] == [rest.id, part.id]
    assert client.v1.refunds.retrieve(part.id).amount == 2000
    client.v1.refunds.update(part.id, {"metadata": {"note": "wrong size"}})
    updated = client.v1.events.list({"type": "refund.updated", "limit": 1}).data[0]
    assert updated.data.object.metadata.note == "wrong size"
    assert updated.data.previous_attributes.metadata.to_dict() == {}
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"charge": charge.id})
    assert again.value.code == "charge_already_refunded"


def test_uncaptured_charges_are_canceled_not_refunded(
    client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": pi.id})
    assert raised.value.code == "charge_not_refundable"


def test_interac_refunds_go_through_the_reader(
    client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent(
        amount=3000,
        currency="cad",
        allowed_payment_method_types=["card_present", "interac_present"],
    )
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(
        reader.id, {"type": "interac_present"}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({"payment_intent": pi.id})
    started = client.v1.terminal.readers.refund_payment(
        reader.id, {"payment_intent": pi.id, "amount": 1000}
    )
    assert (started.action.type, started.action.status) == ("refund_payment", "in_progress")
    shown = started.action.refund_payment.to_dict()
    assert shown == {"amount": 1000, "metadata": {}, "payment_intent": pi.id}
    done = client.v1.test_helpers.terminal.readers.present_payment_method(
        reader.id, {"type": "interac_present"}
    )
    assert done.action.status == "succeeded"
    refund = client.v1.refunds.retrieve(done.action.refund_payment.refund)
    assert refund.amount == 1000
    client.v1.terminal.readers.refund_payment(reader.id, {"payment_intent": pi.id, "amount": 1005})
    declined = client.v1.test_helpers.terminal.readers.present_payment_method(
        reader.id, {"type": "interac_present"}
    )
    assert declined.action.status == "failed"


def test_refund_fail_card_fails_its_refund_later(
    client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = _paid(client, reader, new_intent, amount=2000, number="4000000000005126")
    refund = client.v1.refunds.create({"payment_intent": pi.id})
    assert refund.status == "succeeded"
    deadline = time.monotonic() + 5
    while client.v1.refunds.retrieve(refund.id).status != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.v1.refunds.retrieve(refund.id).failure_reason == "expired_or_canceled_card"
    assert "refund.failed" in [e.type for e in client.v1.events.list({"limit": 5}).data]


def test_events_filters(client: Stripe, new_intent: NewIntent) -> None:
    before = int(time.time()) - 1
    pi = new_intent()
    created = client.v1.events.list({"type": "payment_intent.created", "limit": 1}).data[0]
    assert created.data.object.id == pi.id
    assert client.v1.events.retrieve(created.id).type == "payment_intent.created"
    wildcard = client.v1.events.list({"type": "payment_intent.*", "limit": 100}).data
    assert all(e.type.startswith("payment_intent.") for e in wildcard)
    recent = client.v1.events.list({"created": {"gte": before}, "limit": 100}).data
    assert created.id in [e.id for e in recent]
    assert client.v1.events.list({"created": {"lt": before - 3600}}).data == []
    assert (
        client.v1.payment_intents.list({"created": {"gte": before}, "limit": 1}).data[0].id == pi.id
    )
    assert client.v1.payment_intents.list({"created": {"lt": before - 3600}}).data == []
