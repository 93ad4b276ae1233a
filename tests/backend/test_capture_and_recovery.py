"""Capture failures retried durably; lost answers and silent readers recovered by re-reading Stripe."""

from __future__ import annotations

from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, problem, start, wait_order
from tests.backend.stack import Backend, Stripe, eventually, running_backend


async def test_a_failed_capture_is_surfaced_then_retried_to_success(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    await stripe_api.control(
        "POST",
        "faults",
        {"kind": "error", "method": "POST", "path": "/v1/payment_intents/*/capture", "count": 2},
    )
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=5100)
        await start(http, order["id"], reader)
        await present(http, reader)

        async def capture_failed() -> dict | None:
            current = await get_order(http, order["id"])
            return current if current["attempts"][0]["capture_error"] else None

        failing = await eventually(capture_failed)
        assert failing["status"] == "authorized"  # never paid while the capture failed
        assert failing["amount_captured"] == 0
        paid = await wait_order(http, order["id"], "paid")
    assert paid["attempts"][0]["capture_error"] is None
    assert paid["amount_captured"] == 5100
    (pi,) = await stripe_api.payment_intents()
    assert pi["status"] == "succeeded" and pi["amount_received"] == 5100
    failures = [h for h in paid["history"] if h["event"] == "capture_failed"]
    assert len(failures) == 2 and all(h["cause"] == "outbox:capture" for h in failures)


async def test_the_capture_request_reports_stripe_being_down(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    async with running_backend(database_url, emulator, COUNTERTOP_AUTO_CAPTURE="0") as backend:
        demo = backend.demo
        async with backend.client() as http:
            order = await create_order(http, demo.location_id, amount=2100)
            await start(http, order["id"], demo.reader_ids[0])
            await present(http, demo.reader_ids[0])
            await wait_order(http, order["id"], "authorized")
            await stripe_api.control(
                "POST", "faults", {"kind": "error", "path": "/v1/payment_intents/*/capture"}
            )
            failed = await http.post(f"/api/orders/{order['id']}/capture")
            problem(failed, 502, "stripe_unavailable")
            # The failure scheduled a durable retry: it goes through without another request.
            await wait_order(http, order["id"], "paid")


async def test_a_lost_answer_to_process_payment_intent_resumes_on_the_same_payment_intent(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    await stripe_api.control(
        "POST",
        "faults",
        {"kind": "drop_response", "path": "/v1/terminal/readers/*/process_payment_intent"},
    )
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        started = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        assert started.status_code == 201, started.text
        assert started.json()["status"] == "on_reader"
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
    assert len(await stripe_api.payment_intents()) == 1


async def test_a_lost_answer_to_creating_the_payment_intent_never_makes_a_second_one(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    await stripe_api.control(
        "POST", "faults", {"kind": "drop_response", "method": "POST", "path": "/v1/payment_intents"}
    )
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        first = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        problem(first, 502, "stripe_unavailable")
        second = await start(http, order["id"], reader)  # the till simply tries again
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
    intents = await stripe_api.payment_intents()
    assert [pi["id"] for pi in intents] == [second["payment_intent"]]


async def test_a_reader_timeout_that_did_reach_the_reader_is_not_sent_twice(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[1]
    # Both commands (show the cart, take the payment) time out, yet the reader got them.
    await stripe_api.control("POST", f"readers/{reader}/timeout", {"count": 2, "delivered": True})
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        attempt = await start(http, order["id"], reader)
        assert attempt["status"] == "on_reader"
        await present(http, reader)
        paid = await wait_order(http, order["id"], "paid")
    assert paid["attempts"][0]["status"] == "captured"
    assert len(await stripe_api.payment_intents()) == 1


async def test_a_reader_timeout_that_did_not_reach_the_reader_is_sent_again(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[1]
    await stripe_api.control("POST", f"readers/{reader}/timeout", {"count": 2, "delivered": False})
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        attempt = await start(http, order["id"], reader)
        assert attempt["status"] == "on_reader"
        shown = (await http.get(f"/api/readers/{reader}")).json()
        assert shown["action"]["type"] == "process_payment_intent"
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
    assert len(await stripe_api.payment_intents()) == 1


async def test_a_reader_left_waiting_past_the_deadline_is_canceled_by_the_sweep(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    async with running_backend(
        database_url, emulator, COUNTERTOP_READER_ACTION_TIMEOUT="1"
    ) as backend:
        demo = backend.demo
        reader = demo.reader_ids[0]
        async with backend.client() as http:
            order = await create_order(http, demo.location_id)
            first = await start(http, order["id"], reader)

            async def given_up() -> dict | None:
                current = await get_order(http, order["id"])
                done = (
                    current["attempts"][0]["status"] == "canceled" and current["status"] == "open"
                )
                return current if done else None

            # SQLite reads of one view are not one snapshot: wait for the order and its attempt.
            settled = await eventually(given_up)
            assert settled["attempts"][0]["last_error"]["code"] == "reader_action_timeout"
            shown = (await http.get(f"/api/readers/{reader}")).json()
            assert shown["action"] is None and shown["busy_order_id"] is None
            # When the customer is ready, the order is charged afresh.
            second = await start(http, order["id"], reader)
            await present(http, reader)
            await wait_order(http, order["id"], "paid")
    statuses = {pi["id"]: pi["status"] for pi in await stripe_api.payment_intents()}
    assert statuses == {first["payment_intent"]: "canceled", second["payment_intent"]: "succeeded"}


async def test_a_sale_the_till_walked_away_from_is_settled_with_its_payment_intent_canceled(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    async with running_backend(
        database_url, emulator, COUNTERTOP_READER_ACTION_TIMEOUT="1"
    ) as backend:
        demo = backend.demo
        await stripe_api.control(
            "POST",
            "faults",
            {"kind": "drop_response", "method": "POST", "path": "/v1/payment_intents"},
        )
        async with backend.client() as http:
            order = await create_order(http, demo.location_id)
            lost = await http.post(
                f"/api/orders/{order['id']}/payments", json={"reader": demo.reader_ids[0]}
            )
            problem(lost, 502, "stripe_unavailable")  # and the till never asks again
            settled = await wait_order(http, order["id"], "open")
            assert settled["attempts"][0]["status"] == "canceled"
    intents = await stripe_api.payment_intents()
    assert [pi["status"] for pi in intents] == ["canceled"]
