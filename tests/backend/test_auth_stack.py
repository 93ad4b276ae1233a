"""The browser session on the product's own routes, through uvicorn, with the emulator behind."""

from __future__ import annotations

import httpx

from tests.backend.flows import problem
from tests.backend.stack import ADMIN, OPERATOR, Backend


async def sign_in(http: httpx.AsyncClient, credential: str) -> str:
    response = await http.post("/api/session", json={"credential": credential})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


async def test_a_signed_in_till_sells_only_with_its_csrf_token(backend: Backend) -> None:
    location = backend.demo.location_id
    sale = {"location": location, "currency": "usd", "amount": 450}
    async with httpx.AsyncClient(base_url=backend.url) as browser:
        csrf = await sign_in(browser, OPERATOR)
        problem(await browser.post("/api/orders", json=sale), 403, "csrf_failed")
        problem(
            await browser.post("/api/orders", json=sale, headers={"X-CSRF-Token": "forged"}),
            403,
            "csrf_failed",
        )
        assert (await browser.get("/api/orders")).json()["data"] == []

        created = await browser.post("/api/orders", json=sale, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
        listed = (await browser.get("/api/orders")).json()["data"]
        assert [order["id"] for order in listed] == [created.json()["id"]]
        readers = (await browser.get("/api/readers")).json()["data"]
        assert {reader["id"] for reader in readers} == set(backend.demo.reader_ids)

        assert (
            await browser.delete("/api/session", headers={"X-CSRF-Token": csrf})
        ).status_code == 204
        problem(await browser.get("/api/orders"), 401, "unauthenticated")


async def test_a_deleted_operator_is_signed_out_everywhere(backend: Backend) -> None:
    async with backend.client(ADMIN) as admin:
        hired = await admin.post(
            "/api/operators", json={"name": "Temp till", "locations": [backend.demo.location_id]}
        )
        assert hired.status_code == 201, hired.text
        temp = hired.json()
    async with (
        httpx.AsyncClient(base_url=backend.url) as browser,
        backend.client(temp["credential"]) as api_client,
    ):
        await sign_in(browser, temp["credential"])
        assert (await browser.get("/api/readers")).status_code == 200
        assert (await api_client.get("/api/readers")).status_code == 200
        async with backend.client(ADMIN) as admin:
            assert (await admin.delete(f"/api/operators/{temp['id']}")).status_code == 204
        problem(await browser.get("/api/readers"), 401, "unauthenticated")
        problem(await api_client.get("/api/readers"), 401, "unauthenticated")


async def test_operators_are_created_only_for_locations_stripe_knows(backend: Backend) -> None:
    async with backend.client(ADMIN) as admin:
        refused = await admin.post(
            "/api/operators",
            json={"name": "Typo till", "locations": [backend.demo.location_id, "tml_Typo"]},
        )
        body = problem(refused, 400, "validation_error")
        assert "tml_Typo" in body["detail"]
        names = [op["name"] for op in (await admin.get("/api/operators")).json()["data"]]
        assert "Typo till" not in names
