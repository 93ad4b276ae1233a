"""Refunds of a paid order, and managing readers and locations as an admin."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from countertop.backend import auth
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, problem, start, wait_order
from tests.backend.stack import ADMIN, Backend, Stripe, eventually, running_backend


async def test_partial_then_full_refund(backend: Backend, stripe_api: Stripe) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=3000)
        problem(
            await http.post(f"/api/orders/{order['id']}/refunds", json={}), 409, "invalid_state"
        )
        await start(http, order["id"], reader)
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
        too_much = await http.post(f"/api/orders/{order['id']}/refunds", json={"amount": 3001})
        problem(too_much, 409, "refund_exceeds_captured")
        partial = await http.post(
            f"/api/orders/{order['id']}/refunds",
            json={"amount": 1000, "reason": "requested_by_customer"},
        )
        assert partial.status_code == 201, partial.text
        assert partial.json()["amount"] == 1000
        after_partial = await wait_order(http, order["id"], "partially_refunded")
        assert after_partial["amount_refunded"] == 1000
        rest = await http.post(f"/api/orders/{order['id']}/refunds", json={})
        assert rest.status_code == 201, rest.text
        assert rest.json()["amount"] == 2000
        refunded = await wait_order(http, order["id"], "refunded")
        assert refunded["amount_refunded"] == 3000
        problem(
            await http.post(f"/api/orders/{order['id']}/refunds", json={"amount": 1}),
            409,
            "refund_exceeds_captured",
        )
        bad = await http.post(f"/api/orders/{order['id']}/refunds", json={"reason": "bored"})
        problem(bad, 400, "validation_error")
    await stripe_api.flush()
    (pi,) = await stripe_api.payment_intents()
    assert pi["amount_received"] == 3000


async def test_an_admin_registers_renames_and_removes_a_reader(backend: Backend) -> None:
    demo = backend.demo
    async with backend.client(ADMIN) as admin, backend.client() as till:
        created = await admin.post(
            "/api/readers",
            json={
                "registration_code": "simulated-s700",
                "label": "Back counter",
                "location": demo.location_id,
            },
        )
        assert created.status_code == 201, created.text
        reader = created.json()
        assert reader["device_type"] == "simulated_stripe_s700"
        assert reader["status"] == "online" and reader["busy_order_id"] is None
        renamed = await admin.patch(f"/api/readers/{reader['id']}", json={"label": "Patio"})
        assert renamed.status_code == 200 and renamed.json()["label"] == "Patio"
        listed = (await till.get("/api/readers")).json()["data"]
        assert "Patio" in [r["label"] for r in listed]

        order = await create_order(till, demo.location_id, amount=500)
        await start(till, order["id"], reader["id"])
        busy = await admin.delete(f"/api/readers/{reader['id']}")
        problem(busy, 409, "reader_busy")
        await till.post(f"/api/readers/{reader['id']}/clear")
        removed = await admin.delete(f"/api/readers/{reader['id']}")
        assert removed.status_code == 204, removed.text
        problem(await till.get(f"/api/readers/{reader['id']}"), 404, "not_found")
        bad_code = await admin.post(
            "/api/readers",
            json={"registration_code": "no-such-code", "label": "x", "location": demo.location_id},
        )
        assert bad_code.status_code == 400, bad_code.text


async def test_an_admin_renames_a_location(backend: Backend) -> None:
    async with backend.client(ADMIN) as admin:
        location = backend.demo.location_id
        changed = await admin.patch(
            f"/api/locations/{location}", json={"display_name": "Countertop Main Street"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["display_name"] == "Countertop Main Street"
        missing = await admin.patch("/api/locations/tml_missing", json={"display_name": "x"})
        problem(missing, 404, "not_found")


async def test_the_simulator_exists_only_in_emulator_mode(
    database_url: str, emulator: EmulatorServer
) -> None:
    async with running_backend(database_url, emulator, COUNTERTOP_EMULATOR="0") as backend:
        await auth.ensure_admin(backend.app.state.db, ADMIN)
        async with backend.client(ADMIN) as admin:
            config = (await admin.get("/api/config")).json()
            assert config["mode"] == "test" and config["simulator"] is False
            refused = await admin.post("/api/readers/tmr_any/simulate", json={})
            problem(refused, 404, "simulator_unavailable")


async def test_a_webhook_without_a_configured_secret_is_refused(
    database_url: str, emulator: EmulatorServer
) -> None:
    async with (
        running_backend(database_url, emulator, COUNTERTOP_EMULATOR="0") as backend,
        httpx.AsyncClient(base_url=backend.url) as stripe_side,
    ):
        response = await stripe_side.post("/webhooks/stripe", content=b"{}")
        assert response.status_code == 503
        assert response.json()["code"] == "webhooks_unconfigured"


async def test_order_lists_filter_by_status_and_date(backend: Backend) -> None:
    demo = backend.demo
    async with backend.client() as http:
        paid = await create_order(http, demo.location_id, amount=400)
        open_order = await create_order(http, demo.location_id, amount=500)
        await start(http, paid["id"], demo.reader_ids[0])
        await present(http, demo.reader_ids[0])
        await wait_order(http, paid["id"], "paid")

        async def listed(**params: str) -> list[str]:
            response = await http.get("/api/orders", params=params)
            assert response.status_code == 200, response.text
            return [o["id"] for o in response.json()["data"]]

        assert await listed() == [open_order["id"], paid["id"]]
        assert await listed(status="paid") == [paid["id"]]
        assert await listed(status="open") == [open_order["id"]]
        today = (await get_order(http, paid["id"]))["created"]
        day = datetime.fromtimestamp(today / 1000, UTC).date().isoformat()
        assert len(await listed(date=day)) == 2
        assert await listed(date="2001-01-01") == []
        problem(await http.get("/api/orders", params={"status": "lost"}), 400, "validation_error")
        problem(
            await http.get("/api/orders", params={"date": "yesterday"}), 400, "validation_error"
        )
        await eventually(lambda: listed(location=demo.location_id))
