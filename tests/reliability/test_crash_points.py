"""The backend killed at chosen points of a sale: while Stripe is creating the PaymentIntent, and
while the reader is being handed it. Stripe finishes the work the dead backend asked for. Once the
backend is back and its sweeps have run, the sale is not left stuck half-started: the till can
finish it on the same order with one captured charge, or, if the till walked away, the sweeps
bring it to a final state without anyone's help."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.crash import OPERATOR, BackendProcess, bearer
from bench.invariants import NOT_FINAL, check, read_orders, read_stripe

from countertop.emulator.server import EmulatorServer

SLOW_CALLS = {
    "creating the PaymentIntent": "/v1/payment_intents",
    "handing it to the reader": "/v1/terminal/readers/*/process_payment_intent",
}


async def killed_mid_start(
    backend: BackendProcess, stripe: EmulatorServer, slow_path: str
) -> tuple[str, str]:
    """Start a payment, and SIGKILL the backend while Stripe is still working on `slow_path`."""
    async with httpx.AsyncClient(base_url=backend.url, headers=bearer(OPERATOR)) as http:
        location = (await http.get("/api/locations")).json()["data"][0]["id"]
        reader = (await http.get("/api/readers")).json()["data"][0]["id"]
        order = await http.post(
            "/api/orders", json={"location": location, "currency": "usd", "amount": 2300}
        )
        assert order.status_code == 201, order.text
        stripe.emulator.add_api_fault("latency", "POST", slow_path, count=1, delay_ms=1500)
        start = asyncio.create_task(
            http.post(f"/api/orders/{order.json()['id']}/payments", json={"reader": reader})
        )
        await asyncio.sleep(0.7)
        backend.kill()
        with pytest.raises(httpx.TransportError):
            await start
    await asyncio.sleep(1.5)  # Stripe finishes the request the dead backend made
    return order.json()["id"], reader


async def order_view(http: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    answer = await http.get(f"/api/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def test_the_till_finishes_the_sale_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    point = "handing it to the reader"  # the PaymentIntent exists; the reader may have it
    with EmulatorServer() as stripe:
        backend = BackendProcess(database_url, stripe, tmp_path / "backend.log")
        try:
            await backend.start()
            order_id, reader = await killed_mid_start(backend, stripe, SLOW_CALLS[point])
            await backend.start()
            async with httpx.AsyncClient(base_url=backend.url, headers=bearer(OPERATOR)) as http:
                for _ in range(100):
                    order = await order_view(http, order_id)
                    if order["status"] == "paid":
                        break
                    latest = order["attempts"][-1] if order["attempts"] else None
                    if latest and latest["status"] == "on_reader":
                        await http.post(f"/api/readers/{reader}/simulate", json={})
                    elif latest is None or latest["status"] in ("created", "failed", "canceled"):
                        await http.post(f"/api/orders/{order_id}/payments", json={"reader": reader})
                    await asyncio.sleep(0.2)
                assert order["status"] == "paid", order
            intents, charges = await asyncio.to_thread(read_stripe, stripe.url, stripe.secret_key)
            verdict = check(intents, charges, await read_orders(database_url))
        finally:
            backend.stop()
    assert verdict.ok, "\n".join(verdict.lines())
    assert verdict.counts["captured charges"] == 1


@pytest.mark.parametrize("point", list(SLOW_CALLS))
async def test_the_sweeps_settle_a_sale_the_till_walked_away_from(
    point: str, database_url: str, tmp_path: Path
) -> None:
    with EmulatorServer() as stripe:
        backend = BackendProcess(database_url, stripe, tmp_path / "backend.log")
        try:
            await backend.start()
            order_id, _ = await killed_mid_start(backend, stripe, SLOW_CALLS[point])
            await backend.start()
            status = "in_payment"
            for _ in range(32):  # the reader action timeout is 8 s, sweeps run every 0.5 s
                orders = {o.id: o for o in await read_orders(database_url)}
                status = orders[order_id].status
                if status not in NOT_FINAL:
                    break
                await asyncio.sleep(0.5)
            intents, _ = await asyncio.to_thread(read_stripe, stripe.url, stripe.secret_key)
        finally:
            backend.stop()
    assert status not in NOT_FINAL, f"order {order_id} left {status} after the sweeps"
    assert [i["status"] for i in intents if i["status"] == "requires_capture"] == []
