"""Tills racing each other: the database decides, and nobody is charged twice."""

from __future__ import annotations

import asyncio

from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, present, wait_order
from tests.backend.stack import Backend, Stripe, running_backend


async def test_two_tills_racing_for_one_reader(backend: Backend, stripe_api: Stripe) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as till_1, backend.client() as till_2:
        orders = [
            await create_order(till_1, demo.location_id, amount=1100),
            await create_order(till_2, demo.location_id, amount=2200),
        ]
        answers = await asyncio.gather(
            till_1.post(f"/api/orders/{orders[0]['id']}/payments", json={"reader": reader}),
            till_2.post(f"/api/orders/{orders[1]['id']}/payments", json={"reader": reader}),
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [201, 409], [a.text for a in answers]
        winner = next(i for i, a in enumerate(answers) if a.status_code == 201)
        loser = answers[1 - winner]
        assert loser.json()["code"] == "reader_busy"
        assert loser.json()["order_id"] == orders[winner]["id"]
        await present(till_1, reader)
        await wait_order(till_1, orders[winner]["id"], "paid")
    captured = [pi for pi in await stripe_api.payment_intents() if pi["status"] == "succeeded"]
    assert [pi["amount_received"] for pi in captured] == [orders[winner]["total"]]


async def test_one_order_started_twice_at_once_has_one_attempt_and_one_payment_intent(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=1500)
        answers = await asyncio.gather(
            http.post(f"/api/orders/{order['id']}/payments", json={"reader": demo.reader_ids[0]}),
            http.post(f"/api/orders/{order['id']}/payments", json={"reader": demo.reader_ids[1]}),
        )
        ok = [a for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code != 201]
        assert len(ok) == 1 and len(refused) == 1, [a.text for a in answers]
        assert refused[0].status_code == 409
        assert refused[0].json()["code"] in ("payment_in_progress", "reader_busy")
        reader = ok[0].json()["reader"]
        await present(http, reader)
        paid = await wait_order(http, order["id"], "paid")
    assert len(paid["attempts"]) == 1
    assert len(await stripe_api.payment_intents()) == 1


async def test_automatic_capture_is_paid_without_a_capture_call(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    async with running_backend(
        database_url, emulator, COUNTERTOP_CAPTURE_METHOD="automatic"
    ) as backend:
        demo = backend.demo
        async with backend.client() as http:
            order = await create_order(http, demo.location_id, amount=1900)
            started = await http.post(
                f"/api/orders/{order['id']}/payments", json={"reader": demo.reader_ids[0]}
            )
            assert started.status_code == 201, started.text
            await present(http, demo.reader_ids[0])
            paid = await wait_order(http, order["id"], "paid")
    assert paid["amount_captured"] == 1900
    (pi,) = await stripe_api.payment_intents()
    assert pi["capture_method"] == "automatic" and pi["status"] == "succeeded"
