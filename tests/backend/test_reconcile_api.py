"""Reconciliation from the admin API, and the daily run that only one instance performs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from countertop.backend.reconcile_schedule import (
    CATCH_UP,
    DailyReconciliation,
    due_day,
    next_wake,
    parse_at,
)
from countertop.backend.services.context import Services, utcnow
from countertop.emulator.server import EmulatorServer
from tests.backend.stack import ADMIN, Backend, Stripe, running_backend


@pytest.fixture
async def backend(database_url: str, emulator: EmulatorServer) -> AsyncIterator[Backend]:
    """A backend whose own daily run stays off, so the runs seen here are the tests' own."""
    async with running_backend(database_url, emulator, COUNTERTOP_RECONCILE_AT="off") as started:
        yield started


def later(svc: Services) -> None:
    """Make the backend's clock run an hour ahead, so payments just made count as settled."""
    svc.clock = lambda: utcnow() + timedelta(hours=1)


async def test_admin_runs_a_reconciliation_and_reads_it_back(
    backend: Backend, stripe_api: Stripe
) -> None:
    orphan = (
        await stripe_api.http.post(
            "/v1/payment_intents",
            data={"amount": "900", "currency": "usd", "payment_method_types[]": "card_present"},
        )
    ).json()["id"]
    later(backend.app.state.services)
    async with backend.client(ADMIN) as admin:
        dry = await admin.post("/api/reconciliations", json={})
        assert dry.status_code == 201, dry.text
        run = dry.json()
        assert (run["status"], run["fix"], run["trigger"], run["date"]) == (
            "done",
            False,
            "api",
            utcnow().date().isoformat(),
        )
        assert [(d["kind"], d["payment_intent"]) for d in run["discrepancies"]] == [
            ("orphan_payment_intent", orphan)
        ]
        assert run["discrepancy_count"] == 1 and run["actions"] == []

        fixed = (await admin.post("/api/reconciliations", json={"fix": True})).json()
        assert [(a["action"], a["payment_intent"], a["ok"]) for a in fixed["actions"]] == [
            ("cancel", orphan, True)
        ]
        clean = (await admin.post("/api/reconciliations", json={"fix": True})).json()
        assert clean["discrepancies"] == [] and clean["actions"] == []

        listed = (await admin.get("/api/reconciliations")).json()["data"]
        assert [r["id"] for r in listed] == [clean["id"], fixed["id"], run["id"]]
        assert "discrepancies" not in listed[0]
        again = (await admin.get(f"/api/reconciliations/{run['id']}")).json()
        assert again == run
    assert (await stripe_api.payment_intent(orphan))["status"] == "canceled"


async def test_reconciliation_api_refusals(backend: Backend) -> None:
    async with backend.client() as operator:
        assert (await operator.post("/api/reconciliations", json={})).json()["code"] == "forbidden"
        assert (await operator.get("/api/reconciliations")).status_code == 403
    async with backend.client(ADMIN) as admin:
        bad_tz = await admin.post("/api/reconciliations", json={"tz": "Mars/Olympus"})
        assert bad_tz.status_code == 400 and bad_tz.json()["code"] == "validation_error"
        bad_date = await admin.post("/api/reconciliations", json={"date": "23/11/2026"})
        assert bad_date.status_code == 400
        extra = await admin.post("/api/reconciliations", json={"fix": True, "force": True})
        assert extra.status_code == 400
        missing = await admin.get("/api/reconciliations/recon_nothing")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_schedule_times() -> None:
    paris = ZoneInfo("Europe/Paris")
    at = time(2, 0)
    # 02:30 in Paris on the 23rd: the 22nd is due.
    assert due_day(datetime(2026, 11, 23, 1, 30, tzinfo=UTC), at, paris) == date(2026, 11, 22)
    # Still due within the catch-up window after a restart, not after it.
    assert due_day(datetime(2026, 11, 23, 6, 0, tzinfo=UTC), at, paris) == date(2026, 11, 22)
    assert (
        due_day(
            datetime(2026, 11, 23, 1, 0, tzinfo=UTC) + CATCH_UP + timedelta(minutes=1), at, paris
        )
        is None
    )
    # Just before the run time nothing is due yet.
    assert due_day(datetime(2026, 11, 23, 0, 59, tzinfo=UTC), at, paris) is None
    assert next_wake(datetime(2026, 11, 23, 0, 55, tzinfo=UTC), at, paris) == 300
    assert next_wake(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), at, paris) == 900
    assert parse_at("02:30") == time(2, 30) and parse_at("off") is None
    with pytest.raises(ValueError):
        parse_at("half past two")


async def test_daily_run_happens_once_however_many_instances_wake(backend: Backend) -> None:
    svc: Services = backend.app.state.services
    instances = [DailyReconciliation(svc, time(2, 0), UTC, fix=False) for _ in range(3)]
    wake = datetime.combine(utcnow().date(), time(2, 5), UTC)
    results = await asyncio.gather(*(i.run_once(wake) for i in instances))
    ran = [r for r in results if r is not None]
    assert len(ran) == 1
    assert (ran[0].status, ran[0].trigger, ran[0].day) == (
        "done",
        "schedule",
        (wake.date() - timedelta(days=1)).isoformat(),
    )
    assert await instances[0].run_once(wake + timedelta(hours=1)) is None  # already done today
    async with backend.client(ADMIN) as admin:
        runs = (await admin.get("/api/reconciliations")).json()["data"]
    assert [r["trigger"] for r in runs] == ["schedule"]


async def test_a_failed_daily_run_is_tried_again(backend: Backend, stripe_api: Stripe) -> None:
    svc: Services = backend.app.state.services
    daily = DailyReconciliation(svc, time(2, 0), UTC, fix=False)
    wake = datetime.combine(utcnow().date(), time(2, 5), UTC)
    await stripe_api.control(
        "POST",
        "faults",
        {
            "kind": "error",
            "path": "/v1/payment_intents",
            "method": "GET",
            "status": 401,
            "count": None,
        },
    )
    failed = await daily.run_once(wake)
    assert failed is not None and failed.status == "failed" and "Stripe" in (failed.error or "")
    await stripe_api.control("DELETE", "faults")
    retried = await daily.run_once(wake + timedelta(minutes=15))
    assert retried is not None and retried.status == "done"
