"""The browser session: every route that changes something refuses a cookie without the session's
own CSRF token, and sign-in attempts are limited per client address."""

from __future__ import annotations

import httpx
import pytest

from tests.backend.stack import ADMIN, OPERATOR, Backend
from tests.conftest import DATABASES
from tests.security.support import fill_path, order_of, read_routes, request_body, two_shops

pytestmark = pytest.mark.parametrize("database_url", DATABASES, indirect=True)


async def signed_in(backend: Backend, credential: str) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(base_url=backend.url, timeout=10)
    answer = await http.post("/api/session", json={"credential": credential})
    assert answer.status_code == 200, answer.text
    return http, answer.json()["csrf_token"]


async def test_unsafe_routes_refuse_a_cookie_without_its_csrf_token(backend: Backend) -> None:
    shops = await two_shops(backend)
    before = await order_of(backend, shops.order_a)
    browser, token = await signed_in(backend, ADMIN)
    other, other_token = await signed_in(backend, OPERATOR)
    await other.aclose()
    values = {
        "order_id": shops.order_a,
        "attempt_id": shops.attempt_a,
        "reader_id": shops.reader_a,
        "location_id": shops.shop_a,
        "operator_id": shops.operator_b_id,
    }
    failures = []
    try:
        routes = await read_routes(browser)
        unsafe = [op for op in routes.secured() if op[0] in ("POST", "PATCH", "PUT", "DELETE")]
        assert len(unsafe) >= 10
        for method, template, operation in unsafe:
            body = request_body(operation, routes.document, {"location": shops.shop_a})
            extra = {} if body is None else {"json": body}
            for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": other_token}):
                path = fill_path(template, values)
                answer = await browser.request(method, path, headers=headers, **extra)
                if answer.status_code != 403 or answer.json().get("code") != "csrf_failed":
                    failures.append((method, template, headers, answer.status_code))
        me = await browser.get("/api/session")
        assert me.status_code == 200 and me.json()["operator"]["role"] == "admin"
        fine = await browser.post(
            "/api/orders",
            json={"location": shops.shop_a, "currency": "usd", "amount": 300},
            headers={"X-CSRF-Token": token},
        )
        assert fine.status_code == 201, fine.text
    finally:
        await browser.aclose()
    assert not failures, failures
    assert await order_of(backend, shops.order_a) == before
    async with backend.client(ADMIN) as admin:
        operators = (await admin.get("/api/operators")).json()["data"]
    assert shops.operator_b_id in {o["id"] for o in operators}


async def test_guessing_credentials_is_rate_limited_even_for_the_right_one(
    backend: Backend,
) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as http:
        statuses = []
        for n in range(15):
            if n % 2:
                answer = await http.get("/api/orders", headers={"Authorization": f"Bearer g{n}"})
            else:
                answer = await http.post("/api/session", json={"credential": f"guess-{n}"})
            statuses.append(answer.status_code)
        assert set(statuses[:10]) == {401}
        assert set(statuses[10:]) == {429}
        limited = await http.post("/api/session", json={"credential": OPERATOR})
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) > 0
        assert "set-cookie" not in limited.headers
