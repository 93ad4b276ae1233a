"""GET /metrics: Prometheus text with the figures an operator watches, counting what happened."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from countertop.backend import metrics
from tests.backend.auth_support import client, started_app

EXPECTED_TYPES = {
    "countertop_payments": "counter",
    "countertop_webhook_events": "counter",
    "countertop_webhook_lag_seconds": "histogram",
    "countertop_sweep_actions": "counter",
    "countertop_http_requests": "counter",
    "countertop_http_request_duration_seconds": "histogram",
    "countertop_reader_online": "gauge",
    "countertop_readers": "gauge",
    "countertop_live_subscribers": "gauge",
    "countertop_live_relay_failures": "counter",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with started_app("sqlite", tmp_path) as app, client(app) as http_client:
        yield http_client


async def scrape(http: httpx.AsyncClient) -> tuple[dict[str, str], Samples]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_every_metric_is_published_with_its_type(http: httpx.AsyncClient) -> None:
    types, _ = await scrape(http)
    assert {name: types.get(name) for name in EXPECTED_TYPES} == EXPECTED_TYPES
    assert not [name for name in types if not name.startswith("countertop_")]


async def test_payment_outcomes_and_sweep_actions_are_counted(http: httpx.AsyncClient) -> None:
    _, before = await scrape(http)
    metrics.record_payment_outcome("captured")
    metrics.record_payment_outcome("captured")
    metrics.record_payment_outcome("declined")
    metrics.record_sweep_action("reader_action_canceled")
    _, after = await scrape(http)
    for outcome, expected in (("captured", 2), ("declined", 1)):
        name = "countertop_payments_total"
        delta = value(after, name, outcome=outcome) - value(before, name, outcome=outcome)
        assert delta == expected
    name, action = "countertop_sweep_actions_total", "reader_action_canceled"
    assert value(after, name, action=action) - value(before, name, action=action) == 1


async def test_webhook_events_and_their_lag(http: httpx.AsyncClient) -> None:
    _, before = await scrape(http)
    event_type = "terminal.reader.action_succeeded"
    metrics.record_webhook_event(event_type, "applied")
    metrics.record_webhook_event(event_type, "duplicate")
    metrics.observe_webhook_lag(created=1_795_000_000, now=1_795_000_003.5)
    _, after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for result in ("applied", "duplicate"):
        assert delta("countertop_webhook_events_total", type=event_type, result=result) == 1
    assert delta("countertop_webhook_lag_seconds_count") == 1
    assert delta("countertop_webhook_lag_seconds_sum") == pytest.approx(3.5)
    assert delta("countertop_webhook_lag_seconds_bucket", le="5.0") == 1
    assert delta("countertop_webhook_lag_seconds_bucket", le="2.5") == 0


async def test_a_clock_ahead_of_stripe_never_gives_negative_lag(http: httpx.AsyncClient) -> None:
    _, before = await scrape(http)
    metrics.observe_webhook_lag(created=1_795_000_010, now=1_795_000_000)
    _, after = await scrape(http)
    name = "countertop_webhook_lag_seconds_sum"
    assert value(after, name) == value(before, name)
    name = "countertop_webhook_lag_seconds_bucket"
    assert value(after, name, le="0.05") - value(before, name, le="0.05") == 1


async def test_reader_status(http: httpx.AsyncClient) -> None:
    online, offline = f"tmr_{uuid.uuid4().hex[:12]}", f"tmr_{uuid.uuid4().hex[:12]}"
    _, before = await scrape(http)
    metrics.set_reader_status(online, "tml_1", "online")
    metrics.set_reader_status(offline, "tml_1", "online")
    metrics.set_reader_status(offline, "tml_1", "offline")
    _, after = await scrape(http)
    assert value(after, "countertop_reader_online", reader=online, location="tml_1") == 1
    assert value(after, "countertop_reader_online", reader=offline, location="tml_1") == 0
    for status in ("online", "offline"):
        name = "countertop_readers"
        assert value(after, name, status=status) - value(before, name, status=status) == 1
    metrics.forget_reader(online)
    metrics.forget_reader(offline)
    _, gone = await scrape(http)
    assert (
        "countertop_reader_online",
        frozenset({("reader", online), ("location", "tml_1")}),
    ) not in gone


async def test_http_requests_are_counted_by_route_template(http: httpx.AsyncClient) -> None:
    _, before = await scrape(http)
    await http.get("/no/such/page/4242")
    await http.get("/api/orders/ord_123/events")  # unauthenticated
    _, after = await scrape(http)

    def delta(**labels: str) -> float:
        name = "countertop_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(method="GET", route="/metrics", status="200") == 1  # the first scrape
    assert delta(method="GET", route="unmatched", status="404") == 1
    assert delta(method="GET", route="/api/orders/{order_id}/events", status="401") == 1
    assert not [labels for (_, labels) in after if ("route", "/no/such/page/4242") in labels]
    count = "countertop_http_request_duration_seconds_count"
    assert value(after, count, route="/metrics") - value(before, count, route="/metrics") == 1
