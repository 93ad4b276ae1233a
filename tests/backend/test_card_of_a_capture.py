"""The card of a captured payment is known whichever report tells the backend of the capture.

The backend's endpoint takes no charge events (`WEBHOOK_EVENTS`), and a PaymentIntent event names
its charge by id only. A capture the backend made itself brings the card in the capture's answer;
one Stripe made (automatic capture, Interac) is applied by re-reading the PaymentIntent with its
charge, so receipts and refunds still know the card.
"""

from __future__ import annotations

import json
from typing import Any

from countertop.backend.stripe_gateway import WEBHOOK_EVENTS
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Stripe, eventually, running_backend
from tests.backend.test_event_batches import _burst, _events_of

Json = dict[str, Any]


def test_the_backend_asks_for_no_charge_events_of_a_sale() -> None:
    assert not {"charge.succeeded", "charge.captured", "charge.failed"} & set(WEBHOOK_EVENTS)
    assert {"payment_intent.amount_capturable_updated", "payment_intent.succeeded"} <= set(
        WEBHOOK_EVENTS
    )


async def test_a_capture_stripe_made_is_recorded_with_its_card(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    # Stripe's own deliveries are lost and the sweep is far off: only the report sent here tells
    # the backend, and it names the charge by id.
    await stripe_api.control("POST", "webhooks/faults", {"kind": "drop", "count": None})
    try:
        async with running_backend(
            database_url,
            emulator,
            COUNTERTOP_CAPTURE_METHOD="automatic",
            COUNTERTOP_SWEEP_INTERVAL="3600",
            COUNTERTOP_WEBHOOK_GRACE="3600",
        ) as backend:
            reader = backend.demo.reader_ids[0]
            async with backend.client() as http:
                order = await create_order(http, backend.demo.location_id, amount=2700)
                attempt = await start(http, order["id"], reader)
                payment_intent = attempt["payment_intent"]
                await present(http, reader, card_number="5555555555554444")

                async def succeeded() -> Json | None:
                    found = [
                        e
                        for e in await _events_of(stripe_api, payment_intent)
                        if e["type"] == "payment_intent.succeeded"
                    ]
                    return found[0] if found else None

                report: Json = await eventually(succeeded)
                assert isinstance(report["data"]["object"]["latest_charge"], str)
                [answer] = await _burst(backend, [report])
                assert answer.status_code == 200, answer.text
                paid = await wait_order(http, order["id"], "paid")
                again = await _burst(backend, [report])
                final = await get_order(http, order["id"])
    finally:
        await stripe_api.control("DELETE", "webhooks/faults")

    assert paid["amount_captured"] == 2700
    assert paid["card"] == final["card"]
    assert (paid["card"]["brand"], paid["card"]["last4"]) == ("mastercard", "4444")
    assert json.loads(again[0].text).get("duplicate") is True
    [captured] = [h for h in final["history"] if h["to"] == "captured"]
    assert captured["cause"].endswith("payment_intent.succeeded")
