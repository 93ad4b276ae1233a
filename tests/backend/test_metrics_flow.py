"""What /metrics says after real sales: outcomes, webhooks and their lag, sweep repairs."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.backend.flows import create_order, present, start, wait_order
from tests.backend.stack import Backend, Stripe

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_a_sale_a_decline_and_a_forged_webhook_are_counted(
    backend: Backend, stripe_api: Stripe
) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        before = await scrape(http)
        order = await create_order(http, backend.demo.location_id, amount=1205)  # 05 declines
        await start(http, order["id"], reader)
        await present(http, reader)
        await wait_order(http, order["id"], "in_payment")
        await stripe_api.flush()
        paid = await create_order(http, backend.demo.location_id, amount=1200)
        await start(http, paid["id"], reader)
        await present(http, reader)
        await wait_order(http, paid["id"], "paid")
        await stripe_api.flush()
        forged = await http.post(
            "/webhooks/stripe",
            content=b'{"id": "evt_forged", "type": "payment_intent.succeeded", "data": {}}',
            headers={"Stripe-Signature": "t=1795000000,v1=" + "0" * 64},
        )
        assert forged.status_code == 400
        after = await scrape(http)

    name = "countertop_payments_total"
    assert delta(before, after, name, outcome="declined") >= 1
    assert delta(before, after, name, outcome="captured") == 1
    webhooks = "countertop_webhook_events_total"
    applied = delta(
        before, after, webhooks, type="terminal.reader.action_succeeded", result="applied"
    )
    assert applied == 1
    assert delta(before, after, webhooks, type="unverified", result="rejected") == 1
    assert delta(before, after, "countertop_webhook_lag_seconds_count") >= 5


async def test_sweep_repairs_are_counted(backend: Backend, stripe_api: Stripe) -> None:
    reader = backend.demo.reader_ids[0]
    await stripe_api.control("POST", "webhooks/faults", {"kind": "drop", "count": None})
    async with backend.client() as http:
        before = await scrape(http)
        order = await create_order(http, backend.demo.location_id, amount=1500)
        await start(http, order["id"], reader)
        await present(http, reader)
        await wait_order(http, order["id"], "paid")
        after = await scrape(http)
    name = "countertop_sweep_actions_total"
    assert delta(before, after, name, action="late_attempt_updated") >= 1
    assert delta(before, after, name, action="late_attempt_reread") >= 1


async def test_reader_status_follows_what_stripe_says(backend: Backend, stripe_api: Stripe) -> None:
    reader = backend.demo.reader_ids[0]
    location = backend.demo.location_id
    labels = frozenset({("reader", reader), ("location", location)})
    async with backend.client() as http:
        listed = await http.get("/api/readers", params={"location": location})
        assert listed.status_code == 200
        online = await scrape(http)
        await stripe_api.control("POST", f"readers/{reader}/offline")
        await http.get("/api/readers", params={"location": location})
        offline = await scrape(http)
    assert online[("countertop_reader_online", labels)] == 1
    assert offline[("countertop_reader_online", labels)] == 0
