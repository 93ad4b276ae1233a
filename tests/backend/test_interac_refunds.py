"""Interac: a CAD sale paid with an Interac card, refunded in person on the reader."""

from __future__ import annotations

from typing import Any

import httpx

from tests.backend.flows import create_order, get_order, present, problem, start, wait_order
from tests.backend.stack import Backend, Stripe, eventually

Json = dict[str, Any]


async def _paid_with_interac(http: httpx.AsyncClient, backend: Backend, amount: int) -> Json:
    demo = backend.demo
    order = await create_order(http, demo.location_id, amount=amount, currency="cad")
    await start(http, order["id"], demo.reader_ids[0])
    await present(http, demo.reader_ids[0], type="interac_present")
    return await wait_order(http, order["id"], "paid")


async def _refund_on_reader(
    http: httpx.AsyncClient, order_id: str, reader: str, **body: Any
) -> Json:
    response = await http.post(
        f"/api/orders/{order_id}/in_person_refunds", json={"reader": reader, **body}
    )
    assert response.status_code == 201, response.text
    refund: Json = response.json()
    return refund


async def _refund_settles(http: httpx.AsyncClient, order_id: str, refund_id: str) -> Json:
    async def settled() -> Json | None:
        response = await http.get(f"/api/orders/{order_id}/in_person_refunds/{refund_id}")
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body if body["status"] != "pending" else None

    refund: Json = await eventually(settled)
    return refund


async def _reader_free(http: httpx.AsyncClient, reader: str) -> None:
    async def free() -> bool:
        return (await http.get(f"/api/readers/{reader}")).json()["busy_order_id"] is None

    await eventually(free)


async def test_an_interac_sale_is_refunded_in_person_in_two_parts(
    backend: Backend, stripe_api: Stripe
) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        paid = await _paid_with_interac(http, backend, 3000)
        order_id = paid["id"]
        # Interac is captured when the customer authorizes, even with manual capture of cards:
        # one attempt, captured once, no capture left to run.
        assert [a["status"] for a in paid["attempts"]] == ["captured"]
        assert paid["amount_captured"] == 3000

        async def card_known() -> Json | None:
            order = await get_order(http, order_id)
            return order["card"]

        assert (await eventually(card_known))["brand"] == "interac"
        pi = await stripe_api.payment_intent(paid["attempts"][0]["payment_intent"])
        assert sorted(pi["payment_method_types"]) == ["card_present", "interac_present"]
        assert pi["capture_method"] == "automatic"
        assert pi["payment_method_options"]["card_present"]["capture_method"] == "manual"
        assert (pi["status"], pi["amount_received"]) == ("succeeded", 3000)
        charges = await stripe_api.http.get("/v1/charges", params={"payment_intent": pi["id"]})
        assert len(charges.json()["data"]) == 1
        asked_again = await http.post(f"/api/orders/{order_id}/capture")
        assert asked_again.status_code == 200 and asked_again.json()["status"] == "paid"

        online = await http.post(f"/api/orders/{order_id}/refunds", json={"amount": 500})
        problem(online, 409, "refund_requires_card_present")
        too_much = await http.post(
            f"/api/orders/{order_id}/in_person_refunds", json={"reader": reader, "amount": 3001}
        )
        problem(too_much, 409, "refund_exceeds_captured")

        first = await _refund_on_reader(
            http, order_id, reader, amount=1000, reason="requested_by_customer"
        )
        assert (first["status"], first["amount"], first["reader"]) == ("pending", 1000, reader)
        assert first["reason"] == "requested_by_customer" and first["refund"] is None
        again = await http.post(
            f"/api/orders/{order_id}/in_person_refunds", json={"reader": reader, "amount": 500}
        )
        problem(again, 409, "refund_in_progress")
        other = await create_order(http, backend.demo.location_id, amount=700, currency="cad")
        busy = await http.post(f"/api/orders/{other['id']}/payments", json={"reader": reader})
        assert problem(busy, 409, "reader_busy")["order_id"] == order_id
        reader_view = (await http.get(f"/api/readers/{reader}")).json()
        assert reader_view["action"]["type"] == "refund_payment"

        await present(http, reader, type="interac_present")
        done = await _refund_settles(http, order_id, first["id"])
        assert done["status"] == "succeeded" and done["refund"].startswith("re_")
        partly = await wait_order(http, order_id, "partially_refunded")
        assert (partly["amount_captured"], partly["amount_refunded"]) == (3000, 1000)
        await _reader_free(http, reader)

        rest = await _refund_on_reader(http, order_id, reader)
        assert rest["amount"] == 2000
        await present(http, reader, type="interac_present")
        assert (await _refund_settles(http, order_id, rest["id"]))["status"] == "succeeded"
        refunded = await wait_order(http, order_id, "refunded")
        assert refunded["amount_refunded"] == 3000
        problem(
            await http.post(
                f"/api/orders/{order_id}/in_person_refunds", json={"reader": reader, "amount": 1}
            ),
            409,
            "refund_exceeds_captured",
        )
        listed = (await http.get(f"/api/orders/{order_id}/in_person_refunds")).json()["data"]
        assert [(r["amount"], r["status"]) for r in listed] == [
            (1000, "succeeded"),
            (2000, "succeeded"),
        ]

        receipt = await http.get(
            f"/api/orders/{order_id}/receipt", params={"format": "text", "refund": done["refund"]}
        )
        assert receipt.status_code == 200, receipt.text
        assert "10.00" in receipt.text and "INTERAC" in receipt.text.upper()

    await stripe_api.flush()
    pi = await stripe_api.payment_intent(pi["id"])
    charge = (await stripe_api.http.get(f"/v1/charges/{pi['latest_charge']}")).json()
    assert (charge["amount_captured"], charge["amount_refunded"]) == (3000, 3000)
    refunds = (await stripe_api.http.get("/v1/refunds", params={"payment_intent": pi["id"]})).json()
    assert sorted(r["metadata"]["countertop_refund"] for r in refunds["data"]) == sorted(
        [first["id"], rest["id"]]
    )
    assert {r["metadata"]["reason"] for r in refunds["data"] if "reason" in r["metadata"]} == {
        "requested_by_customer"
    }
    async with backend.client() as http:
        final = await get_order(http, order_id)
        assert (final["status"], final["amount_refunded"]) == ("refunded", 3000)


async def test_a_card_paid_in_cad_is_refunded_online_not_on_the_reader(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=1500, currency="cad")
        await start(http, order["id"], reader)
        await present(http, reader)  # a Visa card: authorized, then captured by the backend
        paid = await wait_order(http, order["id"], "paid")
        assert paid["card"]["brand"] == "visa" and paid["amount_captured"] == 1500
        refused = await http.post(
            f"/api/orders/{order['id']}/in_person_refunds", json={"reader": reader}
        )
        problem(refused, 409, "online_refund_required")
        online = await http.post(f"/api/orders/{order['id']}/refunds", json={"amount": 500})
        assert online.status_code == 201, online.text
        await wait_order(http, order["id"], "partially_refunded")
    (pi,) = await stripe_api.payment_intents()
    assert pi["amount_received"] == 1500


async def test_a_refund_cleared_from_the_reader_is_canceled_and_frees_it(
    backend: Backend,
) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        paid = await _paid_with_interac(http, backend, 2000)
        pending = await _refund_on_reader(http, paid["id"], reader, amount=800)
        cleared = await http.post(f"/api/readers/{reader}/clear")
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["busy_order_id"] is None
        gone = await _refund_settles(http, paid["id"], pending["id"])
        assert gone["status"] == "canceled"
        assert gone["failure"]["code"] == "reader_action_canceled"
        order = await get_order(http, paid["id"])
        assert (order["status"], order["amount_refunded"]) == ("paid", 0)
        # The whole amount can still be refunded.
        whole = await _refund_on_reader(http, paid["id"], reader)
        assert whole["amount"] == 2000


async def test_with_every_webhook_lost_the_sweep_settles_the_refund(
    backend: Backend, stripe_api: Stripe
) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        paid = await _paid_with_interac(http, backend, 2500)
        await stripe_api.control("POST", "webhooks/faults", {"kind": "drop", "count": None})
        refund = await _refund_on_reader(http, paid["id"], reader, amount=2500)
        await present(http, reader, type="interac_present")
        done = await _refund_settles(http, paid["id"], refund["id"])
        assert done["status"] == "succeeded" and done["refund"].startswith("re_")
        order = await wait_order(http, paid["id"], "refunded")
        assert order["amount_refunded"] == 2500
        await _reader_free(http, reader)


async def test_a_declined_in_person_refund_fails_and_frees_the_reader(backend: Backend) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        paid = await _paid_with_interac(http, backend, 3000)
        # Test amounts ending in 05 decline a partial refund at the card issuer.
        refund = await _refund_on_reader(http, paid["id"], reader, amount=1005)
        await present(http, reader, type="interac_present")
        failed = await _refund_settles(http, paid["id"], refund["id"])
        assert failed["status"] == "failed" and failed["failure"]["code"] == "card_declined"
        order = await get_order(http, paid["id"])
        assert (order["status"], order["amount_refunded"]) == ("paid", 0)
        await _reader_free(http, reader)


async def test_an_offline_or_busy_reader_refuses_the_refund_and_nothing_waits(
    backend: Backend, stripe_api: Stripe
) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        paid = await _paid_with_interac(http, backend, 1200)
        url = f"/api/orders/{paid['id']}/in_person_refunds"
        await stripe_api.control("POST", f"readers/{reader}/offline")
        problem(await http.post(url, json={"reader": reader}), 409, "reader_offline")
        await stripe_api.control("POST", f"readers/{reader}/online")
        await stripe_api.control("POST", f"readers/{reader}/busy", {"busy": True})
        problem(await http.post(url, json={"reader": reader}), 409, "reader_busy")
        await stripe_api.control("POST", f"readers/{reader}/busy", {"busy": False})
        (refused,) = (await http.get(url)).json()["data"]
        assert (refused["status"], refused["failure"]["code"]) == ("failed", "terminal_reader_busy")
        await _reader_free(http, reader)
        retried = await _refund_on_reader(http, paid["id"], reader)
        assert (retried["status"], retried["amount"]) == ("pending", 1200)


async def test_a_refund_the_reader_got_despite_a_timeout_answer_still_completes(
    backend: Backend, stripe_api: Stripe
) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        paid = await _paid_with_interac(http, backend, 1800)
        await stripe_api.control(
            "POST", f"readers/{reader}/timeout", {"count": 1, "delivered": True}
        )
        refund = await _refund_on_reader(http, paid["id"], reader, amount=800)
        assert refund["status"] == "pending"
        await present(http, reader, type="interac_present")
        assert (await _refund_settles(http, paid["id"], refund["id"]))["status"] == "succeeded"
        order = await wait_order(http, paid["id"], "partially_refunded")
        assert order["amount_refunded"] == 800
