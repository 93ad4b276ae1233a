"""Events with nothing new for their payment are acknowledged, change nothing and ask Stripe nothing:
late reader events about a sale already paid, and PaymentIntent events that carry no outcome."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from countertop.backend.store.payments import WebhookEventRow
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Backend, running_backend
from tests.backend.test_webhooks import sign


def late_reader_failure(reader: str, payment_intent: str) -> bytes:
    """A `terminal.reader.action_failed` for a payment the reader took long ago."""
    event = {
        "id": "evt_late_reader_failure",
        "object": "event",
        "type": "terminal.reader.action_failed",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": reader,
                "object": "terminal.reader",
                "action": {
                    "type": "process_payment_intent",
                    "status": "failed",
                    "failure_code": "card_declined",
                    "failure_message": "The card was declined.",
                    "process_payment_intent": {"payment_intent": payment_intent},
                },
            }
        },
    }
    return json.dumps(event).encode()


async def _deliver(backend: Backend, payload: bytes) -> httpx.Response:
    secret: str = backend.app.state.webhook_secret
    async with httpx.AsyncClient(base_url=backend.url) as stripe_side:
        return await stripe_side.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, secret)},
        )


async def test_a_late_reader_failure_after_payment_changes_nothing(backend: Backend) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, backend.demo.location_id, amount=2500)
        attempt = await start(http, order["id"], reader)
        await present(http, reader, card_number="4242424242424242")
        await wait_order(http, order["id"], "paid")
        before = await get_order(http, order["id"])
        payload = late_reader_failure(reader, attempt["payment_intent"])
        first = await _deliver(backend, payload)
        again = await _deliver(backend, payload)
        after = await get_order(http, order["id"])
    assert first.status_code == 200 and first.json() == {"received": True}
    assert again.json() == {"received": True, "duplicate": True}
    assert after == before
    assert after["status"] == "paid"


def payment_intent_event(
    event_id: str, event_type: str, payment_intent: str, **fields: object
) -> bytes:
    obj = {"id": payment_intent, "object": "payment_intent", "amount": 2500, **fields}
    event = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def count_payment_intent_reads(backend: Backend) -> list[str]:
    """The PaymentIntents the backend reads from Stripe from now on, in order."""
    gateway = backend.app.state.services.gateway
    asked: list[str] = []
    retrieve = gateway.retrieve_payment_intent

    async def counted(payment_intent: str, **kw: object) -> object:
        asked.append(payment_intent)
        return await retrieve(payment_intent, **kw)

    gateway.retrieve_payment_intent = counted
    return asked


async def _on_reader(http: httpx.AsyncClient, backend: Backend) -> tuple[dict[str, object], str]:
    """An order of 25.00 waiting on the first demo reader, and its PaymentIntent."""
    order = await create_order(http, backend.demo.location_id, amount=2500)
    attempt = await start(http, order["id"], backend.demo.reader_ids[0])
    return order, str(attempt["payment_intent"])


@pytest.fixture
async def quiet_backend(database_url: str, emulator: EmulatorServer) -> AsyncIterator[Backend]:
    """A backend whose sweep is far off: on a slow machine it would rightly re-read a payment
    left on the reader past the grace period, which is not what the events made it ask."""
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600"
    ) as started:
        yield started


async def test_a_payment_intent_event_with_no_outcome_is_stored_applied_and_asks_stripe_nothing(
    quiet_backend: Backend,
) -> None:
    backend = quiet_backend
    reader = backend.demo.reader_ids[0]
    asked = count_payment_intent_reads(backend)
    async with backend.client() as http:
        order, pi = await _on_reader(http, backend)
        quiet = [
            ("evt_pi_created_late", "payment_intent.created", "requires_payment_method"),
            ("evt_pi_processing", "payment_intent.processing", "processing"),
        ]
        answers = [
            await _deliver(backend, payment_intent_event(event_id, kind, pi, status=status))
            for event_id, kind, status in quiet
        ]
        during = await get_order(http, order["id"])
        # Only what the two events made the backend ask counts: the sale's own reports that
        # follow may race each other, and a reader report that comes first is checked with Stripe.
        asked_for_quiet = list(asked)
        await present(http, reader, card_number="4242424242424242")
        await wait_order(http, order["id"], "paid")
    async with backend.app.state.services.db.session() as s:
        rows = await s.execute(
            select(WebhookEventRow.id, WebhookEventRow.processed_at).where(
                WebhookEventRow.id.in_([event_id for event_id, _, _ in quiet])
            )
        )
        processed = {row.id: row.processed_at is not None for row in rows}
    assert [a.json() for a in answers] == [{"received": True}] * 2
    assert during["status"] == "in_payment" and during["attempts"][0]["status"] == "on_reader"
    assert processed == {"evt_pi_created_late": True, "evt_pi_processing": True}
    assert pi not in asked_for_quiet


async def test_a_payment_intent_event_with_an_error_is_looked_into(backend: Backend) -> None:
    """A PaymentIntent back to requires_payment_method with an error may be a decline: Stripe is
    asked, and the reader says the payment is still being presented, so nothing changes."""
    asked = count_payment_intent_reads(backend)
    async with backend.client() as http:
        order, pi = await _on_reader(http, backend)
        error = {"code": "card_declined", "decline_code": "generic_decline", "message": "Declined"}
        payload = payment_intent_event(
            "evt_pi_failed_forged_state", "payment_intent.payment_failed", pi,
            status="requires_payment_method", last_payment_error=error,
        )  # fmt: skip
        answer = await _deliver(backend, payload)
        after = await get_order(http, order["id"])
    assert answer.json() == {"received": True}
    assert asked == [pi]
    assert after["attempts"][0]["status"] == "on_reader"


async def test_a_body_that_is_not_utf8_is_refused(backend: Backend) -> None:
    response = await _deliver(backend, b"\xff\xfe not json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
