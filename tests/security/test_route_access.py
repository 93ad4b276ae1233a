"""Every API route, read from the backend's own OpenAPI document so a new route is covered the day
it lands: refused without a credential, and refused (or empty) for another location's operator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.backend.stack import ADMIN, Backend, bearer
from tests.conftest import DATABASES
from tests.security.support import (
    fill_path,
    order_of,
    read_routes,
    request_body,
    two_shops,
)

pytestmark = pytest.mark.parametrize("database_url", DATABASES, indirect=True)

# The only routes anyone may call without a credential, and why.
PUBLIC = {
    ("GET", "/api/config"),  # the sign-in page needs the mode before anyone signs in
    ("GET", "/healthz"),  # load balancers probe it
    ("POST", "/api/session"),  # signing in
    ("DELETE", "/api/session"),  # signing out clears a cookie, nothing more
    ("POST", "/webhooks/stripe"),  # authenticated by its signature instead
    ("GET", "/metrics"),  # scraped by Prometheus on the private network
}


async def send(
    http: httpx.AsyncClient, method: str, path: str, body: Any, params: dict[str, str]
) -> httpx.Response:
    """One request; an event stream is answered by its status alone (it would never end)."""
    extra: dict[str, Any] = {} if body is None else {"json": body}
    async with http.stream(method, path, params=params, **extra) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            await response.aread()
        return response


async def test_only_the_known_public_routes_skip_authentication(backend: Backend) -> None:
    async with backend.client() as http:
        routes = await read_routes(http)
    assert routes.unsecured() == PUBLIC
    documented = {path for _, path, _ in routes.operations}
    served = {
        route.path
        for route in backend.app.routes
        if isinstance(route, Route) and route.path.startswith(("/api", "/webhooks"))
    }
    assert served <= documented, (
        f"API routes missing from the OpenAPI document: {served - documented}"
    )


async def test_every_secured_route_answers_401_without_a_credential(backend: Backend) -> None:
    async with backend.client() as http:
        routes = await read_routes(http)
    failures = []
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as anonymous:
        for method, template, operation in routes.secured():
            path = fill_path(template, {})
            body = request_body(operation, routes.document, {})
            for headers in ({}, bearer("not-a-real-credential")):
                anonymous.headers.clear()
                anonymous.headers.update(headers)
                answer = await send(anonymous, method, path, body, {})
                code = answer.json().get("code") if answer.status_code != 200 else None
                # Wrong credentials count towards the sign-in limit, so later ones meet a 429.
                allowed = {"unauthenticated"} | ({"rate_limited"} if headers else set())
                if answer.status_code not in (401, 429) or code not in allowed:
                    failures.append((method, template, headers != {}, answer.status_code, code))
    assert not failures, failures


async def test_another_locations_operator_cannot_see_or_drive_its_objects(
    backend: Backend,
) -> None:
    shops = await two_shops(backend)
    before = await order_of(backend, shops.order_a)
    async with backend.client() as http:
        routes = await read_routes(http)
    path_values = {
        "order_id": shops.order_a,
        "attempt_id": shops.attempt_a,
        "reader_id": shops.reader_a,
        "location_id": shops.shop_a,
        "operator_id": "opr_someone_else",
    }
    body_values: dict[str, Any] = {
        "location": shops.shop_a,
        "reader": shops.reader_a,
        "locations": [shops.shop_a],
        "registration_code": "simulated-wpe",
        "currency": "usd",
        "amount": 1000,
        "to": "customer@example.com",
    }
    a_ids = (shops.order_a, shops.attempt_a, shops.reader_a, shops.shop_a, shops.payment_intent_a)
    failures = []
    async with backend.client(shops.operator_b) as other:
        for method, template, operation in routes.secured():
            path = fill_path(template, path_values)
            body = request_body(operation, routes.document, body_values)
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            params = {"location": shops.shop_a} if "location" in names else {}
            answer = await send(other, method, path, body, params)
            status = answer.status_code
            if status in (403, 404):
                continue
            leaked = [ident for ident in a_ids if ident in answer.text]
            if method != "GET" or status != 200 or leaked:
                failures.append((method, template, status, answer.text[:200]))
    assert not failures, failures
    after = await order_of(backend, shops.order_a)
    assert (after["status"], after["attempts"]) == (before["status"], before["attempts"])


async def test_lists_show_an_operator_only_its_own_locations(backend: Backend) -> None:
    shops = await two_shops(backend)
    async with backend.client(shops.operator_b) as other:
        for path in ("/api/locations", "/api/readers", "/api/orders"):
            answer = await other.get(path)
            assert answer.status_code == 200, (path, answer.text)
            ids = {item["id"] for item in answer.json()["data"]}
            assert not ids & {shops.shop_a, shops.reader_a, shops.order_a}, (path, ids)
    async with httpx.AsyncClient(base_url=backend.url, headers=bearer(ADMIN)) as admin:
        orders = (await admin.get("/api/orders")).json()["data"]
        assert shops.order_a in {o["id"] for o in orders}
