"""Prometheus metrics: what an operator of the backend watches (served at `GET /metrics`).

The rest of the backend records through the small functions below, so metric names and labels
live in one place. Every instance exposes its own counters; Prometheus sums them across instances.
All metrics live in `REGISTRY` (not the library's global one), so nothing else leaks into the page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

PAYMENTS = Counter(
    "countertop_payments",
    "Payment attempts that reached an outcome, by outcome "
    "(captured, declined, canceled, failed, capture_failed, refunded, ...).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS = Counter(
    "countertop_webhook_events",
    "Webhook deliveries received, by Stripe event type and result "
    "(applied, duplicate, rejected, failed).",
    ["type", "result"],
    registry=REGISTRY,
)
WEBHOOK_LAG = Histogram(
    "countertop_webhook_lag_seconds",
    "Time from the event's creation at Stripe to its arrival here.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
SWEEP_ACTIONS = Counter(
    "countertop_sweep_actions",
    "The sweep's work, by action: late_attempt_reread (a payment whose webhook is late, read "
    "back from Stripe), late_attempt_updated (the read changed it), reader_action_canceled.",
    ["action"],
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "countertop_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "countertop_http_request_duration_seconds",
    "Time to answer an HTTP request (to the start of the body for streams), by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
LIVE_SUBSCRIBERS = Gauge(
    "countertop_live_subscribers",
    "Live status (Server-Sent Events) subscriptions open on this instance.",
    registry=REGISTRY,
)
LIVE_RELAY_FAILURES = Counter(
    "countertop_live_relay_failures",
    "Live events that could not be relayed to other instances through PostgreSQL.",
    registry=REGISTRY,
)


class ReaderStatusCollector(Collector):
    """The last known status of each reader, reported as gauges."""

    def __init__(self) -> None:
        self._readers: dict[str, tuple[str, str]] = {}

    def set(self, reader_id: str, location_id: str, status: str) -> None:
        self._readers[reader_id] = (location_id, status)

    def forget(self, reader_id: str) -> None:
        self._readers.pop(reader_id, None)

    def collect(self) -> Iterator[Metric]:
        online = GaugeMetricFamily(
            "countertop_reader_online",
            "1 when the reader was last seen online, 0 when offline.",
            labels=["reader", "location"],
        )
        by_status = GaugeMetricFamily(
            "countertop_readers", "Known readers by last reported status.", labels=["status"]
        )
        counts: dict[str, int] = {"online": 0, "offline": 0}
        for reader_id, (location_id, status) in sorted(self._readers.items()):
            online.add_metric([reader_id, location_id], 1.0 if status == "online" else 0.0)
            counts[status] = counts.get(status, 0) + 1
        for status, count in sorted(counts.items()):
            by_status.add_metric([status], float(count))
        yield online
        yield by_status


READERS = ReaderStatusCollector()
REGISTRY.register(READERS)


def record_payment_outcome(outcome: str) -> None:
    """Count an attempt reaching `outcome` (an attempt status, or `capture_failed`)."""
    PAYMENTS.labels(outcome=outcome).inc()


def record_webhook_event(event_type: str, result: str, created: float | None = None) -> None:
    """Count a webhook delivery; with `created` (the event's Unix time) also observe its lag."""
    _webhook_events(event_type, result).inc()
    if created is not None:
        observe_webhook_lag(created)


def observe_webhook_lag(created: float, now: float | None = None) -> None:
    """Record now - event.created, in seconds (never negative: clocks drift a little)."""
    now = time.time() if now is None else now
    WEBHOOK_LAG.observe(max(0.0, now - created))


def record_sweep_action(action: str) -> None:
    SWEEP_ACTIONS.labels(action=action).inc()


def set_reader_status(reader_id: str, location_id: str, status: str) -> None:
    """Remember a reader's status (`online` / `offline`) as last read from Stripe."""
    READERS.set(reader_id, location_id, status)


def forget_reader(reader_id: str) -> None:
    READERS.forget(reader_id)


def record_http_request(method: str, route: str, status: int, seconds: float) -> None:
    requests, duration = _http_children(method, route, status)
    requests.inc()
    duration.observe(seconds)


# A labelled child is looked up once per label values, not on every request: `labels()` checks
# and locks each time. The label values are bounded (route templates, status codes, Stripe's
# event types), and so are these caches.
@cache
def _webhook_events(event_type: str, result: str) -> Any:
    return WEBHOOK_EVENTS.labels(type=event_type, result=result)


@cache
def _http_children(method: str, route: str, status: int) -> tuple[Any, Any]:
    return (
        HTTP_REQUESTS.labels(method=method, route=route, status=str(status)),
        HTTP_DURATION.labels(route=route),
    )
