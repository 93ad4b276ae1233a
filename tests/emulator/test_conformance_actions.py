"""Shapes of the less travelled objects: every reader action, setup intents, Interac refunds,
payment methods, configurations, connection tokens, webhook endpoints and delivered webhooks.

As in test_conformance.py, the bodies come raw from the official library's responses and are
validated against the 2023-09-12 spec. Action types Stripe added later (`collect_payment_method`,
`confirm_payment_intent`, `collect_inputs`) carry sub-objects the 2023 spec does not know; the
spec marks `action.type` as open-ended, so those readers validate with them as extra keys, and
the tests check the documented sub-object fields directly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.openapi import assert_valid, card_present_intent, flow_client, raw_body

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams, SetupIntentCreateParams

    from tests.emulator.conftest import Receiver

Body = dict[str, Any]


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> stripe.StripeClient:
    return flow_client(server)


@pytest.fixture(scope="module")
def reader_id(client: stripe.StripeClient) -> str:
    location = client.v1.terminal.locations.create(
        {"display_name": "Harbour kiosk", "address": {"country": "CA", "city": "Halifax"}}
    )
    reader = client.v1.terminal.readers.create(
        {"registration_code": "simulated-s700", "location": location.id}
    )
    body = raw_body(reader)
    assert body["device_type"] == "simulated_stripe_s700"
    assert_valid(body, "terminal.reader")
    return reader.id


def test_collect_then_confirm_readers_and_intent(
    client: stripe.StripeClient, reader_id: str
) -> None:
    readers = client.v1.terminal.readers
    intent = card_present_intent(client, 3100)
    collecting = raw_body(readers.collect_payment_method(reader_id, {"payment_intent": intent.id}))
    assert_valid(collecting, "terminal.reader")
    assert collecting["action"]["type"] == "collect_payment_method"
    collected = raw_body(client.v1.test_helpers.terminal.readers.present_payment_method(reader_id))
    assert_valid(collected, "terminal.reader")
    method = collected["action"]["collect_payment_method"]["payment_method"]
    assert_valid(method, "payment_method")
    assert method["type"] == "card_present"
    confirmed = raw_body(readers.confirm_payment_intent(reader_id, {"payment_intent": intent.id}))
    assert_valid(confirmed, "terminal.reader")
    assert confirmed["action"]["type"] == "confirm_payment_intent"
    final = raw_body(readers.retrieve(reader_id))
    assert final["action"]["status"] == "succeeded"
    expanded = client.v1.payment_intents.retrieve(
        intent.id, {"expand": ["latest_charge", "payment_method"]}
    )
    body = raw_body(expanded)
    assert_valid(body, "payment_intent")
    assert body["latest_charge"]["object"] == "charge"
    assert body["payment_method"]["object"] == "payment_method"
    pm = raw_body(client.v1.payment_methods.retrieve(body["payment_method"]["id"]))
    assert_valid(pm, "payment_method")


def test_setup_intent_through_the_reader(client: stripe.StripeClient, reader_id: str) -> None:
    params: dict[str, Any] = {"payment_method_types": ["card_present"]}
    setup = client.v1.setup_intents.create(cast("SetupIntentCreateParams", params))
    assert_valid(raw_body(setup), "setup_intent")
    processing = client.v1.terminal.readers.process_setup_intent(
        reader_id, {"setup_intent": setup.id, "allow_redisplay": "always"}
    )
    assert_valid(raw_body(processing), "terminal.reader")
    done = raw_body(client.v1.test_helpers.terminal.readers.present_payment_method(reader_id))
    assert_valid(done, "terminal.reader")
    assert done["action"]["process_setup_intent"]["setup_intent"] == setup.id
    assert_valid(raw_body(client.v1.setup_intents.retrieve(setup.id)), "setup_intent")


def test_interac_refund_on_the_reader(client: stripe.StripeClient, reader_id: str) -> None:
    readers = client.v1.terminal.readers
    helpers = client.v1.test_helpers.terminal.readers
    params: dict[str, Any] = {
        "amount": 1800,
        "currency": "cad",
        "payment_method_types": ["interac_present"],
    }
    intent = client.v1.payment_intents.create(cast("PaymentIntentCreateParams", params))
    readers.process_payment_intent(reader_id, {"payment_intent": intent.id})
    paid = raw_body(helpers.present_payment_method(reader_id, {"type": "interac_present"}))
    assert paid["action"]["status"] == "succeeded"
    charge = raw_body(
        client.v1.charges.retrieve(str(client.v1.payment_intents.retrieve(intent.id).latest_charge))
    )
    assert_valid(charge, "charge")
    assert charge["payment_method_details"]["type"] == "interac_present"
    refunding = raw_body(readers.refund_payment(reader_id, {"payment_intent": intent.id}))
    assert_valid(refunding, "terminal.reader")
    assert refunding["action"]["type"] == "refund_payment"
    refunded = raw_body(helpers.present_payment_method(reader_id, {"type": "interac_present"}))
    assert_valid(refunded, "terminal.reader")
    refund_id = refunded["action"]["refund_payment"]["refund"]
    assert_valid(raw_body(client.v1.refunds.retrieve(refund_id)), "refund")


def test_configuration_and_connection_token(client: stripe.StripeClient) -> None:
    configuration = client.v1.terminal.configurations.create(
        {
            "tipping": {"usd": {"percentages": [10, 15, 20], "smart_tip_threshold": 1000}},
            "reboot_window": {"start_hour": 2, "end_hour": 4},
        }
    )
    assert_valid(raw_body(configuration), "terminal.configuration")
    token = client.v1.terminal.connection_tokens.create()
    body = raw_body(token)
    assert_valid(body, "terminal.connection_token")
    assert body["secret"].startswith("pst_test_")


def _wait_for(receiver: Receiver, event_type: str, seconds: float = 5.0) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for item in list(receiver.received):
            if f'"type":"{event_type}"'.encode() in item.body.replace(b" ", b""):
                return item.body
        time.sleep(0.02)
    raise AssertionError(f"no {event_type} webhook arrived; got {receiver.types()}")


def test_webhook_endpoint_and_delivered_events(
    client: stripe.StripeClient, reader_id: str, receiver: Receiver
) -> None:
    endpoint = client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    created = raw_body(endpoint)
    assert_valid(created, "webhook_endpoint")
    assert created["secret"].startswith("whsec_")
    intent = card_present_intent(client, 4200)
    client.v1.terminal.readers.process_payment_intent(reader_id, {"payment_intent": intent.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader_id)
    for event_type in ("payment_intent.created", "terminal.reader.action_succeeded"):
        payload = _wait_for(receiver, event_type)
        event = stripe.Webhook.construct_event(
            payload.decode(), _signature(receiver, payload), created["secret"]
        )
        assert_valid(event.to_dict(), "event")
    client.v1.webhook_endpoints.delete(endpoint.id)


def _signature(receiver: Receiver, payload: bytes) -> str:
    for item in receiver.received:
        if item.body == payload:
            return item.headers["stripe-signature"]
    raise AssertionError("the delivery carried no Stripe-Signature header")


def test_connected_account_objects_and_their_events(client: stripe.StripeClient) -> None:
    account = {"stripe_account": "acct_1ConformanceShop"}
    intent = client.v1.payment_intents.create(
        cast(
            "PaymentIntentCreateParams",
            {"amount": 650, "currency": "usd", "payment_method_types": ["card_present"]},
        ),
        account,  # type: ignore[arg-type]
    )
    assert_valid(raw_body(intent), "payment_intent")
    events = client.v1.events.list({"type": "payment_intent.created"}, account)  # type: ignore[arg-type]
    event = raw_body(events)["data"][0]
    assert event["data"]["object"]["id"] == intent.id
    assert event["account"] == account["stripe_account"]
    assert_valid(event, "event")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(intent.id)  # not visible from the platform
