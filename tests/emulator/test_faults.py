"""Injected faults: readers offline, busy, timing out; API errors and dropped answers; timing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.conftest import Stripe

NewIntent = Callable[..., Any]


def _terminal_error(raised: pytest.ExceptionInfo[stripe.InvalidRequestError], code: str) -> None:
    assert raised.value.http_status == 400
    assert raised.value.code == code
    body: Any = raised.value.json_body
    assert body["error"]["type"] == "invalid_request_error"


def test_offline_reader(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    server.emulator.set_reader_offline(reader.id)
    assert client.v1.terminal.readers.retrieve(reader.id).status == "offline"
    assert [r.id for r in client.v1.terminal.readers.list({"status": "offline"}).data] == [
        reader.id
    ]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.process_payment_intent(
            reader.id, {"payment_intent": new_intent().id}
        )
    _terminal_error(raised, "terminal_reader_offline")
    server.emulator.set_reader_offline(reader.id, False)
    assert client.v1.terminal.readers.retrieve(reader.id).status == "online"
    client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": new_intent().id}
    )


def test_busy_reader(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    server.emulator.set_reader_busy(reader.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.process_payment_intent(
            reader.id, {"payment_intent": new_intent().id}
        )
    _terminal_error(raised, "terminal_reader_busy")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.terminal.readers.cancel_action(reader.id)
    server.emulator.set_reader_busy(reader.id, False)
    client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": new_intent().id}
    )


def test_reader_holding_a_collected_card_is_busy(
    client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.collect_payment_method(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.process_payment_intent(
            reader.id, {"payment_intent": new_intent().id}
        )
    _terminal_error(raised, "terminal_reader_busy")


def test_reader_timeout(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    server.emulator.set_reader_timeout(reader.id, count=1)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    _terminal_error(raised, "terminal_reader_timeout")
    assert client.v1.terminal.readers.retrieve(reader.id).action is None
    started = client.v1.terminal.readers.process_payment_intent(
        reader.id, {"payment_intent": pi.id}
    )
    assert started.action.status == "in_progress"


def test_reader_timeout_false_negative_still_starts_the_action(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    server.emulator.set_reader_timeout(reader.id, count=1, delivered=True)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    _terminal_error(raised, "terminal_reader_timeout")
    action = client.v1.terminal.readers.retrieve(reader.id).action
    assert (action.status, action.process_payment_intent.payment_intent) == ("in_progress", pi.id)


def test_api_error_fault_answers_5xx_and_changes_nothing(
    server: EmulatorServer, client: Stripe
) -> None:
    before = len(client.v1.payment_intents.list({"limit": 100}).data)
    server.emulator.add_api_fault("error", method="POST", path="/v1/payment_intents", status=503)
    with pytest.raises(stripe.APIError) as raised:
        client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    assert raised.value.http_status == 503
    body: Any = raised.value.json_body
    assert body["error"]["type"] == "api_error"
    assert len(client.v1.payment_intents.list({"limit": 100}).data) == before
    client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})  # the fault was used up


def test_dropped_response_after_the_change_was_made(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    server.emulator.add_api_fault("drop_response", path=f"/v1/payment_intents/{pi.id}/capture")
    key = str(uuid.uuid4())
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.capture(pi.id, options={"idempotency_key": key})
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    replay = client.v1.payment_intents.capture(pi.id, options={"idempotency_key": key})
    assert replay.status == "succeeded"
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"


def test_probability_and_count_none(server: EmulatorServer, client: Stripe) -> None:
    server.emulator.add_api_fault(
        "error", method="GET", path="/v1/events", count=None, probability=1.0
    )
    for _ in range(3):
        with pytest.raises(stripe.APIError):
            client.v1.events.list()
    server.emulator.clear_api_faults()
    server.emulator.add_api_fault("error", path="/v1/events", count=None, probability=0.0)
    client.v1.events.list()
    server.emulator.clear_api_faults()


def test_action_delay_keeps_the_action_in_progress_then_finishes(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    server.emulator.set_action_delay(150, reader.id)
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    presented = client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    assert presented.action.status == "in_progress"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.terminal.readers.cancel_action(reader.id)
    _terminal_error(raised, "terminal_reader_busy")
    deadline = time.monotonic() + 5
    while client.v1.terminal.readers.retrieve(reader.id).action.status == "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_capture"


def test_auto_present(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    server.emulator.set_auto_present(reader.id, after_ms=20, number="4000000000009995")
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    deadline = time.monotonic() + 5
    while client.v1.terminal.readers.retrieve(reader.id).action.status == "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert (
        client.v1.payment_intents.retrieve(pi.id).last_payment_error.decline_code
        == "insufficient_funds"
    )


def test_reader_controls_over_http(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    base = f"{server.url}/_emulator/readers/{reader.id}"
    assert httpx.post(base + "/offline").json()["offline"] is True
    assert client.v1.terminal.readers.retrieve(reader.id).status == "offline"
    assert httpx.post(base + "/online").json()["offline"] is False
    assert httpx.post(base + "/busy", json={"busy": True}).json()["busy"] is True
    assert httpx.post(base + "/busy", json={"busy": False}).json()["busy"] is False
    assert (
        httpx.post(base + "/timeout", json={"count": 2, "delivered": True}).json()["timeouts"] == 2
    )
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.terminal.readers.process_payment_intent(
                reader.id, {"payment_intent": new_intent().id}
            )
    assert (
        httpx.post(base + "/auto_present", json={"after_ms": 10}).json()["auto_present"]["after_ms"]
        == 10
    )
    assert httpx.delete(base + "/auto_present").json()["auto_present"] is None
    assert httpx.post(base + "/action_delay", json={"delay_ms": 5}).json()["action_delay_ms"] == 5
    assert httpx.post(f"{server.url}/_emulator/readers/tmr_nope/offline").status_code == 404


def test_api_fault_controls_over_http(server: EmulatorServer, client: Stripe) -> None:
    faults = f"{server.url}/_emulator/faults"
    added = httpx.post(
        faults, json={"kind": "error", "method": "GET", "path": "/v1/charges", "status": 502}
    )
    assert added.json()["status"] == 502
    assert len(httpx.get(faults).json()["faults"]) == 1
    with pytest.raises(stripe.APIError):
        client.v1.charges.list()
    assert httpx.post(faults, json={"kind": "explode"}).status_code == 400
    assert httpx.delete(faults).json() == {"faults": []}
    assert httpx.post(f"{server.url}/_emulator/timing", json={"action_delay_ms": 0}).json() == {
        "action_delay_ms": 0
    }
    assert httpx.post(f"{server.url}/_emulator/nothing").status_code == 404


def test_reset_forgets_everything() -> None:
    with EmulatorServer() as server:
        client = stripe.StripeClient(
            server.secret_key, base_addresses={"api": server.url}, max_network_retries=0
        )
        pi = client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
        assert httpx.post(server.url + "/_emulator/reset").json() == {"reset": True}
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.payment_intents.retrieve(pi.id)
        accounts = httpx.get(server.url + "/_emulator/state").json()["accounts"]
        assert not any(any(counts.values()) for counts in accounts.values())


def test_customer_cancel_on_the_reader(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    refused = httpx.post(f"{server.url}/_emulator/readers/{reader.id}/customer_cancel")
    assert refused.status_code == 400  # not started with enable_customer_cancellation
    client.v1.terminal.readers.process_payment_intent(
        reader.id,
        {"payment_intent": pi.id, "process_config": {"enable_customer_cancellation": True}},
    )
    assert (
        httpx.post(f"{server.url}/_emulator/readers/{reader.id}/customer_cancel").status_code == 200
    )
    action = client.v1.terminal.readers.retrieve(reader.id).action
    assert (action.status, action.failure_code, action.api_error) == (
        "failed",
        "customer_canceled",
        None,
    )
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"
    assert client.v1.events.list({"limit": 1}).data[0].type == "terminal.reader.action_failed"


def test_an_uncaptured_authorization_expires(
    server: EmulatorServer, client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent(amount=4100)
    assert httpx.post(f"{server.url}/_emulator/payment_intents/{pi.id}/expire").status_code == 400
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    assert httpx.post(f"{server.url}/_emulator/payment_intents/{pi.id}/expire").json()["expired"]
    expired = client.v1.payment_intents.retrieve(
        pi.id, {"expand": ["latest_charge", "latest_charge.refunds"]}
    )
    assert (expired.status, expired.cancellation_reason) == ("canceled", "automatic")
    assert (expired.latest_charge.refunded, expired.latest_charge.amount_refunded) == (True, 4100)
    assert expired.latest_charge.refunds.data[0].reason == "expired_uncaptured_charge"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.capture(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    types = [e.type for e in client.v1.events.list({"limit": 4}).data]
    assert types == [
        "payment_intent.canceled",
        "charge.refunded",
        "refund.created",
        "charge.expired",
    ]
    missing = httpx.post(f"{server.url}/_emulator/payment_intents/pi_nope/expire")
    assert missing.status_code == 404


def test_a_retry_after_an_injected_5xx_runs_the_request(
    server: EmulatorServer, client: Stripe
) -> None:
    server.emulator.add_api_fault("error", method="POST", path="/v1/payment_intents", status=500)
    key = str(uuid.uuid4())
    with pytest.raises(stripe.APIError):
        client.v1.payment_intents.create(
            {"amount": 1300, "currency": "usd"}, {"idempotency_key": key}
        )
    created = client.v1.payment_intents.create(
        {"amount": 1300, "currency": "usd"}, {"idempotency_key": key}
    )
    assert created.status == "requires_payment_method"
    assert "Idempotent-Replayed" not in created.last_response.headers
