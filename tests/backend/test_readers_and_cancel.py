"""Cancel, a reader shared by two tills, an offline reader, and clearing a stuck reader."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.backend.flows import (
    create_order,
    get_order,
    present,
    problem,
    start,
    wait_attempt,
    wait_order,
)
from tests.backend.stack import Backend, Stripe, eventually


async def test_cancel_clears_the_reader_and_cancels_the_payment_intent(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        attempt = await start(http, order["id"], reader)
        canceled = await http.post(f"/api/orders/{order['id']}/payments/{attempt['id']}/cancel")
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"] == "canceled"
        shown = (await http.get(f"/api/readers/{reader}")).json()
        assert shown["action"] is None and shown["busy_order_id"] is None
        after = await get_order(http, order["id"])
        assert after["status"] == "open"
        again = await http.post(f"/api/orders/{order['id']}/payments/{attempt['id']}/cancel")
        problem(again, 409, "invalid_state")
        # The order can still be paid, with a new attempt and PaymentIntent.
        second = await start(http, order["id"], reader)
        assert second["id"] != attempt["id"]
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
    statuses = {pi["id"]: pi["status"] for pi in await stripe_api.payment_intents()}
    assert statuses == {
        attempt["payment_intent"]: "canceled",
        second["payment_intent"]: "succeeded",
    }


async def test_a_busy_reader_is_refused_to_a_second_till_naming_the_order(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as till_1, backend.client() as till_2:
        first = await create_order(till_1, demo.location_id, amount=1200)
        second = await create_order(till_2, demo.location_id, amount=3400)
        await start(till_1, first["id"], reader)
        refused = await till_2.post(f"/api/orders/{second['id']}/payments", json={"reader": reader})
        body = problem(refused, 409, "reader_busy")
        assert body["order_id"] == first["id"]
        assert first["id"] in body["detail"]
        # The second till's order is untouched and can use the other reader.
        assert (await get_order(till_2, second["id"]))["status"] == "open"
        await start(till_2, second["id"], demo.reader_ids[1])
        await present(till_1, reader)
        await present(till_2, demo.reader_ids[1])
        await wait_order(till_1, first["id"], "paid")
        await wait_order(till_2, second["id"], "paid")
    amounts = sorted(pi["amount_received"] for pi in await stripe_api.payment_intents())
    assert amounts == [1200, 3400]


async def test_an_offline_reader_gives_a_clear_error_and_leaves_no_payment_intent(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[1]
    await stripe_api.control("POST", f"readers/{reader}/offline")
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        refused = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        body = problem(refused, 409, "reader_offline")
        assert reader in body["detail"]
        listed = (await http.get("/api/readers")).json()["data"]
        assert {r["id"]: r["status"] for r in listed}[reader] == "offline"
        assert (await get_order(http, order["id"]))["status"] == "open"
    uncanceled = [pi for pi in await stripe_api.payment_intents() if pi["status"] != "canceled"]
    assert uncanceled == []


async def test_a_reader_going_offline_as_the_payment_is_sent_cancels_its_payment_intent(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    # Creating the PaymentIntent is slow; the reader drops off in the meantime.
    await stripe_api.control(
        "POST",
        "faults",
        {"kind": "latency", "method": "POST", "path": "/v1/payment_intents", "delay_ms": 1500},
    )
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        sending = asyncio.create_task(
            http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        )
        await eventually(lambda: _one_intent_pending(stripe_api), timeout=5, interval=0.02)
        await stripe_api.control("POST", f"readers/{reader}/offline")
        problem(await sending, 409, "reader_offline")
        after = await get_order(http, order["id"])
        assert after["status"] == "open"
        assert after["attempts"][0]["status"] == "canceled"
        assert after["attempts"][0]["last_error"]["code"] == "terminal_reader_offline"
        assert (await http.get(f"/api/readers/{reader}")).json()["busy_order_id"] is None
    (pi,) = await stripe_api.payment_intents()
    assert pi["status"] == "canceled"


async def _sell_once(backend: Backend, http: Any, reader: str) -> None:
    """A sale on the reader, so that the backend has heard Stripe report it online."""
    order = await create_order(http, backend.demo.location_id)
    await start(http, order["id"], reader)
    await present(http, reader)
    await wait_order(http, order["id"], "paid")


async def test_a_reader_gone_offline_since_it_was_last_reported_online(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        await _sell_once(backend, http, reader)
        await stripe_api.control("POST", f"readers/{reader}/offline")
        order = await create_order(http, demo.location_id)
        refused = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        assert reader in problem(refused, 409, "reader_offline")["detail"]
        after = await get_order(http, order["id"])
        assert after["status"] == "open"
        assert [a["status"] for a in after["attempts"]] == ["canceled"]
        assert after["attempts"][0]["last_error"]["code"] == "terminal_reader_offline"
        assert (await http.get(f"/api/readers/{reader}")).json()["busy_order_id"] is None
    statuses = sorted(pi["status"] for pi in await stripe_api.payment_intents())
    assert statuses == ["canceled", "succeeded"]


async def test_a_reader_deleted_at_stripe_since_it_was_last_reported(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        await _sell_once(backend, http, reader)
        deleted = await stripe_api.http.delete(f"/v1/terminal/readers/{reader}")
        assert deleted.status_code == 200, deleted.text
        order = await create_order(http, demo.location_id)
        refused = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        problem(refused, 404, "not_found")
        after = await get_order(http, order["id"])
        assert after["status"] == "open"
        assert [a["status"] for a in after["attempts"]] == ["canceled"]
        # Asked again, the backend now reads the reader from Stripe first: no PaymentIntent.
        again = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        problem(again, 404, "not_found")
    statuses = sorted(pi["status"] for pi in await stripe_api.payment_intents())
    assert statuses == ["canceled", "succeeded"]


async def _one_intent_pending(stripe_api: Stripe) -> bool:
    state = await stripe_api.control("GET", "faults")
    return not state["faults"]  # the latency fault is used up once the request has arrived


async def test_clearing_a_stuck_reader_releases_it(backend: Backend, stripe_api: Stripe) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        stuck = await create_order(http, demo.location_id)
        attempt = await start(http, stuck["id"], reader)
        cleared = await http.post(f"/api/readers/{reader}/clear")
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["busy_order_id"] is None and cleared.json()["action"] is None
        released = await wait_attempt(http, stuck["id"], "canceled")
        assert released["id"] == attempt["id"]
        other = await create_order(http, demo.location_id, amount=800)
        await start(http, other["id"], reader)
        await present(http, reader)
        await wait_order(http, other["id"], "paid")
    statuses = {pi["id"]: pi["status"] for pi in await stripe_api.payment_intents()}
    assert statuses[attempt["payment_intent"]] == "canceled"


async def test_a_declined_payment_can_be_canceled(backend: Backend, stripe_api: Stripe) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        attempt = await start(http, order["id"], reader)
        await present(http, reader, card_number="4000000000000002")
        await wait_attempt(http, order["id"], "declined")
        canceled = await http.post(f"/api/orders/{order['id']}/payments/{attempt['id']}/cancel")
        assert canceled.json()["status"] == "canceled"
        assert canceled.json()["last_error"] is not None
    (pi,) = await stripe_api.payment_intents()
    assert pi["status"] == "canceled"


async def test_a_reader_busy_with_another_integration_is_reported_busy(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[1]
    await stripe_api.control("POST", f"readers/{reader}/busy", {"busy": True})
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        refused = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        body = problem(refused, 409, "reader_busy")
        assert body["order_id"] is None
        failed = (await get_order(http, order["id"]))["attempts"][0]
        assert failed["status"] == "failed"
        assert failed["last_error"]["code"] == "terminal_reader_busy"
        assert (await http.get(f"/api/readers/{reader}")).json()["busy_order_id"] is None
        # Once the reader is free the same attempt and PaymentIntent go through.
        await stripe_api.control("POST", f"readers/{reader}/busy", {"busy": False})
        retried = await http.post(f"/api/orders/{order['id']}/payments/{failed['id']}/retry")
        assert retried.status_code == 200, retried.text
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
    assert len(await stripe_api.payment_intents()) == 1
