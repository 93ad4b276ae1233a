"""Connect: locations on two connected accounts; their readers and payments never mix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select

from countertop.backend.services.context import utcnow
from countertop.backend.store.payments import WebhookEventRow
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, present, problem, start, wait_order
from tests.backend.stack import ADMIN, Backend, eventually, running_backend

ACCOUNTS = ("acct_1AlphaBakery", "acct_1BravoBooks")


@pytest.fixture
async def backend(database_url: str, emulator: EmulatorServer) -> AsyncIterator[Backend]:
    """A backend whose own daily reconciliation stays off, so the runs seen here are the tests'."""
    async with running_backend(database_url, emulator, COUNTERTOP_RECONCILE_AT="off") as started:
        yield started


async def _shop(admin: httpx.AsyncClient, account: str) -> dict[str, Any]:
    """A location on `account`, one simulated reader there, and an operator kept to it."""
    created = await admin.post(
        "/api/locations",
        json={
            "display_name": f"Shop of {account}",
            "address": {"city": "Portland", "country": "US"},
            "account": account,
        },
    )
    assert created.status_code == 201, created.text
    location = created.json()
    assert location["account"] == account
    registered = await admin.post(
        "/api/readers",
        json={"registration_code": "simulated-wpe", "label": "Till", "location": location["id"]},
    )
    assert registered.status_code == 201, registered.text
    hired = await admin.post(
        "/api/operators",
        json={"name": f"Till {account}", "role": "operator", "locations": [location["id"]]},
    )
    assert hired.status_code in (200, 201), hired.text
    return {
        "account": account,
        "location": location["id"],
        "reader": registered.json()["id"],
        "credential": hired.json()["credential"],
    }


async def _sale(backend: Backend, shop: dict[str, Any], amount: int) -> dict[str, Any]:
    async with backend.client(shop["credential"]) as till:
        order = await create_order(till, shop["location"], amount=amount)
        await start(till, order["id"], shop["reader"])
        await present(till, shop["reader"])
        paid: dict[str, Any] = await wait_order(till, order["id"], "paid")
        return paid


async def _webhook_accounts(backend: Backend, payment_intent: str) -> set[str]:
    """The accounts named by the events about a PaymentIntent that reached the backend's webhook."""
    async with backend.app.state.services.db.session() as s:
        payloads = (
            await s.execute(
                select(WebhookEventRow.payload).where(WebhookEventRow.object_id == payment_intent)
            )
        ).scalars()
        return {json.loads(p).get("account") for p in payloads}


def _ids(page: Any) -> set[str]:
    return {item.id for item in page.data}


async def test_connected_accounts_keep_their_readers_and_payments_apart(
    backend: Backend, emulator: EmulatorServer
) -> None:
    async with backend.client(ADMIN) as admin:
        alpha, bravo = [await _shop(admin, account) for account in ACCOUNTS]
        listed = {
            loc["id"]: loc["account"] for loc in (await admin.get("/api/locations")).json()["data"]
        }
        assert listed[alpha["location"]] == alpha["account"]
        assert listed[bravo["location"]] == bravo["account"]
        assert listed[backend.demo.location_id] is None
        every_reader = {r["id"] for r in (await admin.get("/api/readers")).json()["data"]}
        assert {alpha["reader"], bravo["reader"]} <= every_reader

    paid = {"alpha": await _sale(backend, alpha, 1250), "bravo": await _sale(backend, bravo, 3400)}

    client = stripe.StripeClient(emulator.secret_key, base_addresses={"api": emulator.url})
    platform_intents = _ids(await client.v1.payment_intents.list_async({"limit": 100}))
    platform_readers = _ids(await client.v1.terminal.readers.list_async({"limit": 100}))
    for name, shop in (("alpha", alpha), ("bravo", bravo)):
        on_account: stripe.RequestOptions = {"stripe_account": shop["account"]}
        order = paid[name]
        pi_id = order["attempts"][-1]["payment_intent"]
        intents = await client.v1.payment_intents.list_async({"limit": 100}, on_account)
        assert _ids(intents) == {pi_id}
        intent = intents.data[0]
        assert intent.status == "succeeded"
        assert intent.amount_received == order["total"] == order["amount_captured"]
        assert intent.metadata["order_id"] == order["id"]
        delivered = partial(_webhook_accounts, backend, pi_id)
        assert await eventually(delivered) == {shop["account"]}
        charge = await client.v1.charges.retrieve_async(str(intent.latest_charge), None, on_account)
        assert charge.captured and charge.payment_intent == pi_id
        readers = await client.v1.terminal.readers.list_async({"limit": 100}, on_account)
        assert _ids(readers) == {shop["reader"]}
        assert pi_id not in platform_intents
        assert shop["reader"] not in platform_readers
    # Neither account can see the other's PaymentIntent.
    bravo_pi = paid["bravo"]["attempts"][-1]["payment_intent"]
    try:
        await client.v1.payment_intents.retrieve_async(
            bravo_pi, None, {"stripe_account": alpha["account"]}
        )
    except stripe.InvalidRequestError as error:
        assert error.http_status == 404
    else:
        raise AssertionError("account A could read account B's PaymentIntent")

    async with backend.client(alpha["credential"]) as till:
        readers = (await till.get("/api/readers")).json()["data"]
        assert [r["id"] for r in readers] == [alpha["reader"]]
        problem(
            await till.get("/api/readers", params={"location": bravo["location"]}),
            403,
            "forbidden_location",
        )
        problem(await till.post(f"/api/readers/{bravo['reader']}/clear"), 404, "not_found")
        problem(await till.get(f"/api/orders/{paid['bravo']['id']}"), 404, "not_found")
        # A refund goes back through the account that took the payment.
        alpha_order = paid["alpha"]["id"]
        refund = await till.post(f"/api/orders/{alpha_order}/refunds", json={"amount": 250})
        assert refund.status_code == 201, refund.text
        await wait_order(till, alpha_order, "partially_refunded")
    alpha_pi = paid["alpha"]["attempts"][-1]["payment_intent"]
    refunds = await client.v1.refunds.list_async(
        {"payment_intent": alpha_pi}, {"stripe_account": alpha["account"]}
    )
    assert [(r.amount, r.status) for r in refunds.data] == [(250, "succeeded")]
    assert _ids(await client.v1.refunds.list_async({"limit": 100})) == set()


async def test_reconciliation_covers_every_connected_account(
    backend: Backend, emulator: EmulatorServer
) -> None:
    async with backend.client(ADMIN) as admin:
        alpha, bravo = [await _shop(admin, account) for account in ACCOUNTS]
    await _sale(backend, alpha, 900)
    await _sale(backend, bravo, 1100)
    client = stripe.StripeClient(emulator.secret_key, base_addresses={"api": emulator.url})
    on_bravo: stripe.RequestOptions = {"stripe_account": bravo["account"]}
    orphan = await client.v1.payment_intents.create_async(
        {"amount": 700, "currency": "usd", "allowed_payment_method_types": ["card_present"]},
        on_bravo,
    )
    # Payments made a moment ago count as settled an hour later.
    backend.app.state.services.clock = lambda: utcnow() + timedelta(hours=1)
    async with backend.client(ADMIN) as admin:
        dry = (await admin.post("/api/reconciliations", json={})).json()
        assert [(d["kind"], d["payment_intent"]) for d in dry["discrepancies"]] == [
            ("orphan_payment_intent", orphan.id)
        ]
        fixed = (await admin.post("/api/reconciliations", json={"fix": True})).json()
        assert len(fixed["actions"]) == 1, fixed
        clean = (await admin.post("/api/reconciliations", json={})).json()
        assert clean["discrepancies"] == []
    canceled = await client.v1.payment_intents.retrieve_async(orphan.id, None, on_bravo)
    assert canceled.status == "canceled"


async def test_a_location_account_must_look_like_one(backend: Backend) -> None:
    async with backend.client(ADMIN) as admin:
        refused = await admin.post(
            "/api/locations",
            json={
                "display_name": "Nowhere",
                "address": {"city": "Portland", "country": "US"},
                "account": "not-an-account",
            },
        )
    problem(refused, 400, "validation_error")
