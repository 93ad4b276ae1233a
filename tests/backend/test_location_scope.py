"""An operator sees and drives only its own locations' orders and readers."""

from __future__ import annotations

import httpx

from tests.backend.flows import create_order, problem, start
from tests.backend.stack import ADMIN, Backend


async def test_operators_are_kept_to_their_locations(backend: Backend) -> None:
    demo = backend.demo
    async with backend.client(ADMIN) as admin:
        created = await admin.post(
            "/api/locations",
            json={"display_name": "Airport Kiosk", "address": {"city": "Oakland", "country": "US"}},
        )
        assert created.status_code == 201, created.text
        kiosk = created.json()["id"]
        registered = await admin.post(
            "/api/readers",
            json={"registration_code": "simulated-wpe", "label": "Kiosk", "location": kiosk},
        )
        assert registered.status_code == 201, registered.text
        kiosk_reader = registered.json()["id"]
        hired = await admin.post(
            "/api/operators", json={"name": "Kiosk till", "role": "operator", "locations": [kiosk]}
        )
        assert hired.status_code in (200, 201), hired.text
        kiosk_credential = hired.json()["credential"]
        kiosk_order = await create_order(admin, kiosk, amount=600)
        everything = (await admin.get("/api/orders")).json()["data"]
        assert kiosk_order["id"] in [o["id"] for o in everything]

    async with backend.client() as store_till, backend.client(kiosk_credential) as kiosk_till:
        store_order = await create_order(store_till, demo.location_id, amount=700)

        # Orders of another location: not visible, not creatable, not payable.
        problem(await store_till.get(f"/api/orders/{kiosk_order['id']}"), 404, "not_found")
        problem(
            await store_till.post("/api/orders", json={"location": kiosk, "amount": 100}),
            403,
            "forbidden_location",
        )
        problem(
            await store_till.get("/api/orders", params={"location": kiosk}),
            403,
            "forbidden_location",
        )
        listed = (await store_till.get("/api/orders")).json()["data"]
        assert [o["id"] for o in listed] == [store_order["id"]]
        problem(
            await store_till.post(
                f"/api/orders/{kiosk_order['id']}/payments", json={"reader": demo.reader_ids[0]}
            ),
            404,
            "not_found",
        )
        problem(await store_till.post(f"/api/orders/{kiosk_order['id']}/capture"), 404, "not_found")

        # Readers of another location: not listed, not usable, not clearable.
        problem(
            await store_till.get("/api/readers", params={"location": kiosk}),
            403,
            "forbidden_location",
        )
        readers = (await store_till.get("/api/readers")).json()["data"]
        assert {r["id"] for r in readers} == set(demo.reader_ids)
        problem(
            await store_till.post(
                f"/api/orders/{store_order['id']}/payments", json={"reader": kiosk_reader}
            ),
            404,
            "not_found",
        )
        problem(await store_till.post(f"/api/readers/{kiosk_reader}/clear"), 404, "not_found")
        locations = (await store_till.get("/api/locations")).json()["data"]
        assert [loc["id"] for loc in locations] == [demo.location_id]

        # Managing readers and locations is for admins.
        problem(
            await store_till.post(
                "/api/readers",
                json={
                    "registration_code": "simulated-wpe",
                    "label": "x",
                    "location": demo.location_id,
                },
            ),
            403,
            "forbidden",
        )
        problem(await store_till.delete(f"/api/readers/{demo.reader_ids[0]}"), 403, "forbidden")
        problem(
            await store_till.post(
                "/api/locations", json={"display_name": "x", "address": {"country": "US"}}
            ),
            403,
            "forbidden",
        )

        # The kiosk till sees its own, and only its own.
        attempt = await start(kiosk_till, kiosk_order["id"], kiosk_reader)
        assert attempt["status"] == "on_reader"
        problem(await kiosk_till.get(f"/api/orders/{store_order['id']}"), 404, "not_found")


async def test_no_credential_no_access(backend: Backend) -> None:
    async with backend.client("not-a-credential") as stranger:
        for path in ("/api/orders", "/api/readers", "/api/locations"):
            problem(await stranger.get(path), 401, "unauthenticated")
    async with httpx.AsyncClient(base_url=backend.url) as anonymous:
        problem(
            await anonymous.post("/api/orders", json={"location": "tml_x", "amount": 1}),
            401,
            "unauthenticated",
        )
        config = (await anonymous.get("/api/config")).json()
        assert config == {"mode": "emulator", "simulator": True, "currency": "usd"}
        assert (await anonymous.get("/healthz")).json()["status"] == "ok"
