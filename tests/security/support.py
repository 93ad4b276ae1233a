"""What the security tests share: a second location with its own operator, a sale in the first
location, signed webhook payloads, and the backend's routes read from its OpenAPI document."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.backend.stack import ADMIN, Backend, Stripe, bearer, eventually

ADDRESS = {
    "line1": "9 Other Road",
    "city": "Portland",
    "state": "OR",
    "postal_code": "97201",
    "country": "US",
}


@dataclass
class Routes:
    """Every operation of the API: (method, path template, operation object)."""

    operations: list[tuple[str, str, dict[str, Any]]]
    document: dict[str, Any]

    def secured(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [op for op in self.operations if op[2].get("security")]

    def unsecured(self) -> set[tuple[str, str]]:
        return {(m, p) for m, p, op in self.operations if not op.get("security")}


async def read_routes(http: httpx.AsyncClient) -> Routes:
    document = (await http.get("/openapi.json")).json()
    operations = [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    return Routes(operations, document)


def fill_path(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "zz_missing"), template)


def example(
    schema: dict[str, Any], document: dict[str, Any], name: str, values: dict[str, Any]
) -> Any:
    """A valid-looking value for `schema`, taking `values[name]` where the caller has one."""
    if name in values:
        return values[name]
    if "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return example(target, document, name, values)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return example(options[0], document, name, values)
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        return {
            prop: example(sub, document, prop, values)
            for prop, sub in schema.get("properties", {}).items()
            if prop in required or prop in values
        }
    if kind == "array":
        return [example(schema.get("items", {}), document, name, values)]
    if kind == "integer":
        return max(1000, schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if "enum" in schema:
        return schema["enum"][0]
    return "x" * max(1, schema.get("minLength", 1))


def request_body(
    operation: dict[str, Any], document: dict[str, Any], values: dict[str, Any]
) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else example(schema, document, "", values)


@dataclass
class TwoShops:
    """The demo location with a sale on the reader, and a second location with its own operator."""

    shop_a: str
    reader_a: str
    order_a: str
    attempt_a: str
    payment_intent_a: str
    shop_b: str
    operator_b: str
    operator_b_id: str


async def two_shops(backend: Backend) -> TwoShops:
    demo = backend.demo
    async with backend.client(ADMIN) as admin:
        created = await admin.post(
            "/api/locations", json={"display_name": "Other shop", "address": ADDRESS}
        )
        assert created.status_code in (200, 201), created.text
        shop_b = created.json()["id"]
        made = await admin.post(
            "/api/operators", json={"name": "Other till", "role": "operator", "locations": [shop_b]}
        )
        assert made.status_code in (200, 201), made.text
    async with backend.client() as till:
        order = await till.post(
            "/api/orders", json={"location": demo.location_id, "currency": "usd", "amount": 1200}
        )
        assert order.status_code == 201, order.text
        started = await till.post(
            f"/api/orders/{order.json()['id']}/payments", json={"reader": demo.reader_ids[0]}
        )
        assert started.status_code == 201, started.text
    attempt = started.json()
    return TwoShops(
        demo.location_id,
        demo.reader_ids[0],
        order.json()["id"],
        attempt["id"],
        attempt["payment_intent"],
        shop_b,
        made.json()["credential"],
        made.json()["id"],
    )


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def order_of(backend: Backend, order_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=backend.url, headers=bearer(ADMIN)) as http:
        response = await http.get(f"/api/orders/{order_id}")
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order


async def wait_for_status(backend: Backend, order_id: str, *statuses: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        order = await order_of(backend, order_id)
        return order if order["status"] in statuses else None

    found: dict[str, Any] = await eventually(check)
    return found


async def stripe_events(stripe: Stripe, **params: Any) -> list[dict[str, Any]]:
    response = await stripe.http.get("/v1/events", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
