"""Webhook endpoints, Stripe signatures, retries and delivery faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.conftest import Receiver, Stripe, make_client


@pytest.fixture
def endpoint(client: Stripe, server: EmulatorServer, receiver: Receiver) -> Iterator[Any]:
    created = client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    yield created
    client.v1.webhook_endpoints.delete(created.id)
    server.emulator.flush_webhooks()
    server.emulator.clear_webhook_faults()


def _pay(client: Stripe, reader: Any, amount: int = 1000) -> Any:
    pi = client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "allowed_payment_method_types": ["card_present"],
            "capture_method": "manual",
        }
    )
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    return pi


def test_endpoint_crud_shows_the_secret_only_at_creation(
    client: Stripe, receiver: Receiver
) -> None:
    created = client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["charge.succeeded"], "description": "till"}
    )
    assert created.secret.startswith("whsec_")
    assert created.status == "enabled"
    fetched = client.v1.webhook_endpoints.retrieve(created.id)
    assert "secret" not in fetched.to_dict()
    updated = client.v1.webhook_endpoints.update(
        created.id, {"disabled": True, "enabled_events": ["*"]}
    )
    assert (updated.status, updated.enabled_events) == ("disabled", ["*"])
    assert created.id in [e.id for e in client.v1.webhook_endpoints.list().data]
    assert client.v1.webhook_endpoints.delete(created.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(created.id)


def test_deliveries_are_signed_like_stripe(
    client: Stripe, server: EmulatorServer, reader: Any, receiver: Receiver, endpoint: Any
) -> None:
    pi = _pay(client, reader)
    assert server.emulator.flush_webhooks()
    assert receiver.received
    for item in receiver.received:
        event = stripe.Webhook.construct_event(
            item.body, item.headers["stripe-signature"], endpoint.secret
        )
        assert event.id.startswith("evt_")
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                item.body, item.headers["stripe-signature"], "whsec_wrong"
            )
    types = receiver.types()
    assert types[:1] == ["payment_intent.created"]
    assert {
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "terminal.reader.action_succeeded",
    } <= set(types)
    first = json.loads(receiver.received[0].body)
    assert first["pending_webhooks"] == 1
    stored = client.v1.events.retrieve(first["id"])
    assert stored.data.object.id == pi.id
    assert stored.pending_webhooks == 0  # delivered


def test_enabled_events_filter_what_is_sent(
    client: Stripe, server: EmulatorServer, reader: Any, receiver: Receiver
) -> None:
    only = client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["terminal.reader.action_succeeded"]}
    )
    _pay(client, reader)
    server.emulator.flush_webhooks()
    client.v1.webhook_endpoints.delete(only.id)
    assert receiver.types() == ["terminal.reader.action_succeeded"]


def test_failed_deliveries_are_retried_until_2xx(
    client: Stripe, server: EmulatorServer, reader: Any, receiver: Receiver
) -> None:
    server.emulator.configure_webhooks(retry_base_ms=10)
    only = client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["payment_intent.created"]}
    )
    receiver.statuses = [500, 503]
    client.v1.payment_intents.create({"amount": 800, "currency": "usd"})
    assert server.emulator.flush_webhooks()
    client.v1.webhook_endpoints.delete(only.id)
    assert receiver.types() == ["payment_intent.created"] * 3
    attempts = [d for d in server.emulator.deliveries() if d["url"] == receiver.url]
    assert [d["status"] for d in attempts][-3:] == [500, 503, 200]


def test_dropped_duplicated_and_delayed_deliveries(
    client: Stripe, server: EmulatorServer, receiver: Receiver, endpoint: Any
) -> None:
    emulator = server.emulator
    emulator.add_webhook_fault("drop", count=1)
    client.v1.payment_intents.create({"amount": 801, "currency": "usd"})
    emulator.flush_webhooks()
    assert receiver.received == []

    emulator.add_webhook_fault("duplicate", count=1)
    client.v1.payment_intents.create({"amount": 802, "currency": "usd"})
    emulator.flush_webhooks()
    bodies = [json.loads(item.body) for item in receiver.received]
    assert len(bodies) == 2 and bodies[0]["id"] == bodies[1]["id"]

    receiver.clear()
    emulator.add_webhook_fault("delay", count=1, delay_ms=150)
    client.v1.payment_intents.create({"amount": 803, "currency": "usd"})
    assert emulator.pending_webhooks() == 1
    emulator.flush_webhooks()
    assert receiver.types() == ["payment_intent.created"]


def test_reordered_deliveries_arrive_newest_first(
    client: Stripe, server: EmulatorServer, receiver: Receiver, endpoint: Any
) -> None:
    server.emulator.add_webhook_fault("reorder", count=3)
    amounts = [901, 902, 903]
    for amount in amounts:
        client.v1.payment_intents.create({"amount": amount, "currency": "usd"})
    server.emulator.flush_webhooks()
    received = [json.loads(item.body)["data"]["object"]["amount"] for item in receiver.received]
    assert received == list(reversed(amounts))


def test_webhook_controls_over_http(
    server: EmulatorServer, client: Stripe, receiver: Receiver, endpoint: Any
) -> None:
    import httpx

    answer = httpx.post(
        server.url + "/_emulator/webhooks/faults", json={"kind": "drop", "count": 1}
    )
    assert answer.status_code == 200
    client.v1.payment_intents.create({"amount": 804, "currency": "usd"})
    flushed = httpx.post(server.url + "/_emulator/webhooks/flush", json={"timeout": 5})
    assert flushed.json() == {"flushed": True, "pending": 0}
    assert receiver.received == []
    assert (
        httpx.post(server.url + "/_emulator/webhooks/faults", json={"kind": "lose"}).status_code
        == 400
    )


def test_webhook_urls_from_the_command_line_get_every_account(receiver: Receiver) -> None:
    with EmulatorServer(webhook_urls=[receiver.url], webhook_secret="whsec_cli") as server:
        make_client(server, stripe_account="acct_elsewhere").v1.payment_intents.create(
            {"amount": 990, "currency": "usd"}
        )
        server.emulator.flush_webhooks()
    (item,) = receiver.received
    event = stripe.Webhook.construct_event(item.body, item.headers["stripe-signature"], "whsec_cli")
    assert (event.type, event.account) == ("payment_intent.created", "acct_elsewhere")


def test_webhook_urls_from_the_command_line_get_only_the_events_asked_for(
    receiver: Receiver,
) -> None:
    """`--webhook-events`, like `stripe listen --events`: the other types are not sent."""
    wanted = ["payment_intent.amount_capturable_updated", "payment_intent.succeeded"]
    with EmulatorServer(
        webhook_urls=[receiver.url], webhook_secret="whsec_cli", webhook_events=wanted
    ) as server:
        client = make_client(server)
        address = {"line1": "1 Market St", "city": "San Francisco", "state": "CA",
                   "postal_code": "94105", "country": "US"}  # fmt: skip
        location = client.v1.terminal.locations.create(
            {"display_name": "Corner Shop", "address": address}
        )
        reader = client.v1.terminal.readers.create(
            {"registration_code": "simulated-s700", "location": location.id}
        )
        pi = _pay(client, reader)
        client.v1.payment_intents.capture(pi.id)
        server.emulator.flush_webhooks()
    assert receiver.types() == wanted


def test_connect_endpoints_receive_connected_accounts_events(
    client: Stripe, server: EmulatorServer, receiver: Receiver
) -> None:
    platform = client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["payment_intent.created"], "connect": True}
    )
    make_client(server, stripe_account="acct_shop").v1.payment_intents.create(
        {"amount": 995, "currency": "usd"}
    )
    server.emulator.flush_webhooks()
    client.v1.webhook_endpoints.delete(platform.id)
    (item,) = receiver.received
    assert json.loads(item.body)["account"] == "acct_shop"


def test_deliveries_beyond_the_cap_wait_their_turn_and_all_arrive() -> None:
    """A burst of events to a slow endpoint: never more than `max_in_flight` requests on the wire
    at once, yet every event arrives (the rest waited in line, not against their timeout)."""
    seen = {"now": 0, "most": 0, "count": 0}
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                seen["now"] += 1
                seen["most"] = max(seen["most"], seen["now"])
            time.sleep(0.05)
            with lock:
                seen["now"] -= 1
                seen["count"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    http = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=http.serve_forever, args=(0.02,), daemon=True).start()
    server = EmulatorServer().start()
    try:
        server.emulator.webhooks.settings.max_in_flight = 4
        server.emulator.configure_webhooks(
            max_attempts=1, urls=[f"http://127.0.0.1:{http.server_address[1]}/hook"]
        )
        client = make_client(server)
        for _ in range(40):
            client.v1.payment_intents.create({"amount": 500, "currency": "usd"})
        assert server.emulator.flush_webhooks(30)
    finally:
        server.stop()
        http.shutdown()
        http.server_close()
    assert seen["count"] == 40
    assert 2 <= seen["most"] <= 4
