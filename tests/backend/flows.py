"""Steps of a sale as the POS app takes them, over the backend's HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.backend.stack import eventually

Json = dict[str, Any]
CART = [
    {"description": "Flat white", "quantity": 2, "unit_amount": 450},
    {"description": "Croissant", "quantity": 1, "unit_amount": 375},
]
CART_TOTAL = 2 * 450 + 375 + 102


async def create_order(http: httpx.AsyncClient, location: str, **body: Any) -> Json:
    payload: Json = {"location": location, "currency": "usd", **body}
    if "amount" not in body and "line_items" not in body:
        payload.update(line_items=CART, tax=102)
    response = await http.post("/api/orders", json=payload)
    assert response.status_code == 201, response.text
    order: Json = response.json()
    return order


async def start(http: httpx.AsyncClient, order_id: str, reader: str) -> Json:
    response = await http.post(f"/api/orders/{order_id}/payments", json={"reader": reader})
    assert response.status_code == 201, response.text
    attempt: Json = response.json()
    return attempt


async def present(http: httpx.AsyncClient, reader: str, **card: Any) -> Json:
    response = await http.post(f"/api/readers/{reader}/simulate", json=card)
    assert response.status_code == 200, response.text
    shown: Json = response.json()
    return shown


async def get_order(http: httpx.AsyncClient, order_id: str) -> Json:
    response = await http.get(f"/api/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: Json = response.json()
    return order


async def wait_order(http: httpx.AsyncClient, order_id: str, status: str, **kw: Any) -> Json:
    async def reached() -> Json | None:
        order = await get_order(http, order_id)
        return order if order["status"] == status else None

    order: Json = await eventually(reached, **kw)
    return order


async def wait_attempt(http: httpx.AsyncClient, order_id: str, status: str) -> Json:
    async def reached() -> Json | None:
        attempts = (await get_order(http, order_id))["attempts"]
        return attempts[-1] if attempts and attempts[-1]["status"] == status else None

    attempt: Json = await eventually(reached)
    return attempt


def problem(response: httpx.Response, status: int, code: str) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    assert body["code"] == code, body
    return body
