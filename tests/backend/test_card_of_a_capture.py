"""The card of a captured payment is known whichever report tells the backend of the capture.

The backend's endpoint takes no charge events (`WEBHOOK_EVENTS`), and a PaymentIntent event names
its charge by id only. A capture the backend made itself brings the card in the capture's answer;
one Stripe made (automatic capture, Interac) is applied by re-reading the PaymentIntent with its
charge, so receipts and refunds still know the card.
"""

from __future__ import annotations

from countertop.backend.stripe_gateway import WEBHOOK_EVENTS
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Stripe, eventually, told_only_by_the_test
from tests.backend.test_event_batches import _burst


def test_the_backend_asks_for_no_charge_events_of_a_sale() -> None:
    assert not {"charge.succeeded", "charge.captured", "charge.failed"} & set(WEBHOOK_EVENTS)
    assert {"payment_intent.amount_capturable_updated", "payment_intent.succeeded"} <= set(
        WEBHOOK_EVENTS
    )


async def test_a_capture_stripe_made_is_recorded_with_its_card(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    # Only the report sent here tells the backend of the capture, and it names the charge by id.
    async with told_only_by_the_test(
        database_url, emulator, stripe_api, COUNTERTOP_CAPTURE_METHOD="automatic"
    ) as backend:
        reader = backend.demo.reader_ids[0]
        async with backend.client() as http:
            order = await create_order(http, backend.demo.location_id, amount=2700)
            attempt = await start(http, order["id"], reader)
            payment_intent = attempt["payment_intent"]
            await present(http, reader, card_number="5555555555554444")
            report = await eventually(
                lambda: stripe_api.event("payment_intent.succeeded", payment_intent)
            )
            assert isinstance(report["data"]["object"]["latest_charge"], str)
            [answer] = await _burst(backend, [report])
            assert answer.status_code == 200, answer.text
            paid = await wait_order(http, order["id"], "paid")
            [again] = await _burst(backend, [report])
            final = await get_order(http, order["id"])

    assert paid["amount_captured"] == 2700
    assert paid["card"] == final["card"]
    assert (paid["card"]["brand"], paid["card"]["last4"]) == ("mastercard", "4444")
    assert again.json().get("duplicate") is True
    [captured] = [h for h in final["history"] if h["to"] == "captured"]
    assert captured["cause"].endswith("payment_intent.succeeded")
