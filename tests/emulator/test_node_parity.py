"""What the official Node library (`stripe` 23.2.0, API version 2026-11-18.endive) noticed.

Each test pins one difference found by `tests/clients/node/terminal_flow.mjs`, now fixed:

- answers repeat the request's `Stripe-Version`, `Stripe-Account` and `Idempotency-Key` (with
  `Original-Request`), which stripe-node exposes as `lastResponse.apiVersion`, `.stripeAccount`
  and `.idempotencyKey`;
- a deleted reader keeps `device_type` and `serial_number`;
- since API version 2022-11-15 a Charge carries `refunds` only when the request expands it;
- retrieve and delete refuse unknown parameters (`parameter_unknown`), as every Stripe endpoint;
- `doc_url` points at docs.stripe.com;
- confirm takes the method types (`allowed_payment_method_types`, and `payment_method_types`
  before 2026-09-30.endive).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from countertop.emulator.server import EmulatorServer
from tests.emulator.conftest import Receiver, Stripe

NODE_VERSION = "2026-11-18.endive"
NewIntent = Callable[..., Any]


@pytest.fixture(scope="module")
def http(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.secret_key}"}
    )


def _location(http: httpx.Client, **headers: str) -> httpx.Response:
    return http.post(
        "/v1/terminal/locations",
        data={"display_name": "Till", "address[country]": "US"},
        headers=headers,
    )


def test_answers_repeat_the_requests_api_version(http: httpx.Client) -> None:
    assert _location(http, **{"Stripe-Version": NODE_VERSION}).headers["stripe-version"] == (
        NODE_VERSION
    )
    old = http.get("/v1/terminal/locations", headers={"Stripe-Version": "2023-10-16"})
    assert old.headers["stripe-version"] == "2023-10-16"
    assert http.get("/v1/terminal/locations").headers["stripe-version"] == "2023-09-12"
    missing = http.get("/v1/terminal/locations/tml_nope", headers={"Stripe-Version": NODE_VERSION})
    assert missing.status_code == 404
    assert missing.headers["stripe-version"] == NODE_VERSION


def test_answers_repeat_the_account_and_the_idempotency_key(http: httpx.Client) -> None:
    key = f"parity-{time.time_ns()}"
    headers = {"Stripe-Account": "acct_1Parity", "Idempotency-Key": key}
    first = _location(http, **headers)
    assert first.headers["stripe-account"] == "acct_1Parity"
    assert first.headers["idempotency-key"] == key
    assert first.headers["original-request"] == first.headers["request-id"]
    assert "idempotent-replayed" not in first.headers
    again = _location(http, **headers)
    assert again.headers["idempotency-key"] == key
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["original-request"] == first.headers["request-id"]
    assert again.json()["id"] == first.json()["id"]
    plain = http.get("/v1/terminal/locations")
    assert "stripe-account" not in plain.headers
    assert "idempotency-key" not in plain.headers


def test_a_deleted_reader_keeps_its_device_type_and_serial_number(client: Stripe) -> None:
    reader = client.v1.terminal.readers.create({"registration_code": "simulated-s700"})
    gone = client.v1.terminal.readers.delete(reader.id)
    assert gone.deleted is True
    assert gone.device_type == "simulated_stripe_s700"
    assert gone.serial_number == reader.serial_number


def _refunded_charge(client: Stripe, reader: Any, new_intent: NewIntent) -> str:
    intent = new_intent(3000)
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": intent.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    client.v1.payment_intents.capture(intent.id)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 700})
    charge_id: str = client.v1.payment_intents.retrieve(intent.id).latest_charge
    return charge_id


def test_charge_refunds_only_when_expanded_since_2022_11_15(
    client: Stripe, http: httpx.Client, reader: Any, new_intent: NewIntent
) -> None:
    charge_id = _refunded_charge(client, reader, new_intent)
    for version in ("2023-09-12", "2023-10-16", NODE_VERSION):
        headers = {"Stripe-Version": version}
        plain = http.get(f"/v1/charges/{charge_id}", headers=headers).json()
        assert "refunds" not in plain, version
        assert plain["amount_refunded"] == 700
        expanded = http.get(
            f"/v1/charges/{charge_id}", params={"expand[]": "refunds"}, headers=headers
        ).json()
        assert expanded["refunds"]["object"] == "list"
        assert expanded["refunds"]["data"][0]["amount"] == 700
        listed = http.get("/v1/charges", params={"limit": 1}, headers=headers).json()
        assert "refunds" not in listed["data"][0]
        listed = http.get(
            "/v1/charges", params={"limit": 1, "expand[]": "data.refunds"}, headers=headers
        ).json()
        assert listed["data"][0]["refunds"]["object"] == "list"
        intent = http.get(
            f"/v1/payment_intents/{plain['payment_intent']}",
            params={"expand[]": "latest_charge"},
            headers=headers,
        ).json()
        assert "refunds" not in intent["latest_charge"]
        intent = http.get(
            f"/v1/payment_intents/{plain['payment_intent']}",
            params={"expand[0]": "latest_charge", "expand[1]": "latest_charge.refunds"},
            headers=headers,
        ).json()
        assert intent["latest_charge"]["refunds"]["data"][0]["amount"] == 700
    old = http.get(f"/v1/charges/{charge_id}", headers={"Stripe-Version": "2020-08-27"}).json()
    assert old["refunds"]["data"][0]["amount"] == 700
    # The stored charge keeps its refunds whatever was rendered.
    again = http.get(f"/v1/charges/{charge_id}", headers={"Stripe-Version": "2020-08-27"}).json()
    assert again["refunds"]["object"] == "list"


def test_charge_events_and_webhooks_carry_no_refunds_list(
    server: EmulatorServer,
    client: Stripe,
    http: httpx.Client,
    reader: Any,
    new_intent: NewIntent,
    receiver: Receiver,
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["charge.refunded"]}
    )
    try:
        charge_id = _refunded_charge(client, reader, new_intent)
        assert server.emulator.flush_webhooks(timeout=5)
    finally:
        client.v1.webhook_endpoints.delete(endpoint.id)
    delivered = [json.loads(item.body) for item in receiver.received]
    refunded = [event for event in delivered if event["data"]["object"]["id"] == charge_id]
    assert refunded
    assert all("refunds" not in event["data"]["object"] for event in refunded)
    events = http.get("/v1/events", params={"type": "charge.refunded", "limit": 1}).json()
    assert events["data"][0]["data"]["object"]["id"] == charge_id
    assert "refunds" not in events["data"][0]["data"]["object"]
    one = http.get(f"/v1/events/{events['data'][0]['id']}").json()
    assert "refunds" not in one["data"]["object"]


@pytest.mark.parametrize(
    "path", ["/v1/terminal/locations/{location}", "/v1/terminal/readers/{reader}"]
)
def test_retrieve_and_delete_refuse_unknown_parameters(
    http: httpx.Client, client: Stripe, path: str
) -> None:
    location = client.v1.terminal.locations.create(
        {"display_name": "Back", "address": {"country": "US"}}
    )
    reader = client.v1.terminal.readers.create({"registration_code": "simulated-wpe"})
    url = path.format(location=location.id, reader=reader.id)
    # stripe-node sends a misplaced options hash as query parameters: Stripe refuses them.
    for method in ("GET", "DELETE"):
        answer = http.request(method, url, params={"stripeAccount": "acct_1Misplaced"})
        assert answer.status_code == 400, method
        error = answer.json()["error"]
        assert error["code"] == "parameter_unknown"
        assert error["param"] == "stripeAccount"
    assert http.get(url).status_code == 200


def test_doc_url_points_at_docs_stripe_com(http: httpx.Client) -> None:
    error = http.get("/v1/payment_intents/pi_nope").json()["error"]
    assert error["doc_url"] == "https://docs.stripe.com/error-codes/resource-missing"


def test_confirm_takes_the_method_types(client: Stripe, http: httpx.Client) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 1500, "currency": "usd", "allowed_payment_method_types": ["card_present"]}
    )
    confirmed = client.v1.payment_intents.confirm(
        intent.id,
        {"allowed_payment_method_types": ["card"], "payment_method": "pm_card_visa"},
    )
    assert confirmed.status == "succeeded"
    assert confirmed.payment_method_types == ["card"]
    assert confirmed.allowed_payment_method_types == ["card"]

    old = {"Stripe-Version": "2023-10-16"}
    created = http.post(
        "/v1/payment_intents",
        data={"amount": 1500, "currency": "usd", "payment_method_types[0]": "card_present"},
        headers=old,
    ).json()
    answer = http.post(
        f"/v1/payment_intents/{created['id']}/confirm",
        data={"payment_method_types[0]": "card", "payment_method": "pm_card_visa"},
        headers=old,
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "succeeded"

    refused = http.post(
        f"/v1/payment_intents/{intent.id}/confirm",
        data={"payment_method_types[0]": "card"},
        headers={"Stripe-Version": NODE_VERSION},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "payment_method_types_no_longer_supported"
