"""PaymentIntent method types across API versions, as the installed `stripe` library meets them.

stripe-python 16 pins API version 2026-10-28.endive. Stripe's changelog:

- 2026-07-29.dahlia added `allowed_payment_method_types` to PaymentIntent create/update: the
  compatible subset of it is reflected in the object's read-only `payment_method_types`;
- 2026-09-30.endive removed `payment_method_types` as a writable parameter of PaymentIntent
  create, update and confirm: passing it answers 400 `payment_method_types_no_longer_supported`.

So an integration on today's library creates its card_present PaymentIntents with
`allowed_payment_method_types`, while integrations pinned to older versions (Stripe's own Terminal
sample pins 2020-08-27) keep sending `payment_method_types`. The emulator must serve both.
"""

from __future__ import annotations

import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.openapi import FLOW_API_VERSION, assert_valid, flow_client, raw_body


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> stripe.StripeClient:
    return flow_client(server, stripe_version=None)  # the library's own pinned version


def test_the_library_pins_an_endive_version() -> None:
    assert stripe.api_version.endswith(".endive"), stripe.api_version


def test_card_present_intent_from_allowed_payment_method_types(
    client: stripe.StripeClient,
) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "allowed_payment_method_types": ["card_present"],
            "capture_method": "manual",
        }
    )
    assert intent.payment_method_types == ["card_present"]
    assert_valid(raw_body(intent), "payment_intent")


def test_reader_takes_an_intent_created_the_endive_way(client: stripe.StripeClient) -> None:
    location = client.v1.terminal.locations.create(
        {"display_name": "Till", "address": {"country": "US", "line1": "3 Pier"}}
    )
    reader = client.v1.terminal.readers.create(
        {"registration_code": "simulated-wpe", "location": location.id}
    )
    intent = client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "usd",
            "allowed_payment_method_types": ["card_present"],
            "capture_method": "manual",
        }
    )
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": intent.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_capture"


def test_payment_method_types_is_refused_on_endive(client: stripe.StripeClient) -> None:
    params = {"amount": 1000, "currency": "usd", "payment_method_types": ["card_present"]}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create(params)  # type: ignore[arg-type]
    assert caught.value.http_status == 400
    assert caught.value.code == "payment_method_types_no_longer_supported"


def test_payment_method_types_still_works_before_endive(client: stripe.StripeClient) -> None:
    params = {"amount": 1000, "currency": "usd", "payment_method_types": ["card_present"]}
    intent = client.v1.payment_intents.create(
        params,  # type: ignore[arg-type]
        {"stripe_version": FLOW_API_VERSION},
    )
    assert intent.payment_method_types == ["card_present"]
