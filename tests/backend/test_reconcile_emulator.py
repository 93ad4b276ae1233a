"""Reconciliation against the emulator: each discrepancy built on purpose, found, fixed, gone."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from countertop.backend import reconcile
from countertop.backend.services.context import Services, utcnow
from countertop.backend.store.payments import OrderRow
from countertop.cli import app
from countertop.domain.reconciliation import Fix, Kind
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Backend, Stripe, running_backend


@pytest.fixture
async def manual_backend(database_url: str, emulator: EmulatorServer) -> AsyncIterator[Backend]:
    """A backend that leaves authorizations uncaptured until asked (so they can be left over)."""
    async with running_backend(database_url, emulator, COUNTERTOP_AUTO_CAPTURE="false") as b:
        yield b


async def authorize(http: httpx.AsyncClient, backend: Backend) -> dict[str, Any]:
    demo = backend.demo
    reader = demo.reader_ids[0]
    order = await create_order(http, demo.location_id)
    await start(http, order["id"], reader)
    await present(http, reader)
    return await wait_order(http, order["id"], "authorized")


def pi_of(order: dict[str, Any]) -> str:
    return str(order["attempts"][-1]["payment_intent"])


def services(backend: Backend) -> Services:
    svc: Services = backend.app.state.services
    return svc


async def check(backend: Backend, fix: bool = False) -> reconcile.Run:
    now = utcnow()
    # An hour from now, so the payments just made count as settled.
    window = reconcile.Window(now - timedelta(hours=1), now + timedelta(minutes=1))
    return await reconcile.run(services(backend), window, fix=fix, now=now + timedelta(hours=1))


def found(run: reconcile.Run) -> set[tuple[str, str | None]]:
    return {(d.kind.value, d.payment_intent) for d in run.report.discrepancies}


async def test_each_discrepancy_is_found_fixed_and_gone(
    manual_backend: Backend, stripe_api: Stripe
) -> None:
    backend = manual_backend
    async with backend.client() as http:
        # A clean sale: authorized and captured through the backend.
        clean = await authorize(http, backend)
        assert (await http.post(f"/api/orders/{clean['id']}/capture")).status_code == 200
        # Left uncaptured at the end of the day.
        uncaptured = await authorize(http, backend)
        # A capture that failed: Stripe answers 500 to its captures until the faults are cleared.
        failing = await authorize(http, backend)
        await stripe_api.control(
            "POST",
            "faults",
            {
                "kind": "error",
                "path": f"/v1/payment_intents/{pi_of(failing)}/capture",
                "count": None,
            },
        )
        refused = await http.post(f"/api/orders/{failing['id']}/capture")
        assert refused.status_code == 502, refused.text
        failing = await get_order(http, failing["id"])
        assert failing["status"] == "authorized" and failing["attempts"][-1]["capture_error"]
        # Our books say more was captured than Stripe did.
        mismatched = await authorize(http, backend)
        assert (await http.post(f"/api/orders/{mismatched['id']}/capture")).status_code == 200
    async with services(backend).db.session() as s, s.begin():
        await s.execute(
            update(OrderRow)
            .where(OrderRow.id == mismatched["id"])
            .values(amount_captured=OrderRow.amount_captured + 100)
        )
    # A PaymentIntent made outside the backend: no order knows it.
    orphan = (
        await stripe_api.http.post(
            "/v1/payment_intents",
            data={
                "amount": "500",
                "currency": "usd",
                "payment_method_types[]": "card_present",
                "capture_method": "manual",
            },
        )
    ).json()["id"]

    first = await check(backend)
    assert found(first) == {
        (Kind.UNCAPTURED.value, pi_of(uncaptured)),
        (Kind.FAILED_CAPTURE.value, pi_of(failing)),
        (Kind.AMOUNT_MISMATCH.value, pi_of(mismatched)),
        (Kind.ORPHAN.value, orphan),
    }
    assert first.outcomes == ()  # a dry run changes nothing
    assert (await stripe_api.payment_intent(pi_of(uncaptured)))["status"] == "requires_capture"
    by_kind = {d.kind: d for d in first.report.discrepancies}
    left = by_kind[Kind.UNCAPTURED].seconds_left
    assert left is not None and 0 < left <= 7 * 86400  # time left before the authorization lapses
    assert by_kind[Kind.AMOUNT_MISMATCH].fix is None

    await stripe_api.control("DELETE", "faults")
    fixed = await check(backend, fix=True)
    assert {(o.fix.action, o.fix.payment_intent, o.ok) for o in fixed.outcomes} == {
        ("capture", pi_of(uncaptured), True),
        ("capture", pi_of(failing), True),
        ("cancel", orphan, True),
    }
    assert (await stripe_api.payment_intent(pi_of(uncaptured)))["status"] == "succeeded"
    assert (await stripe_api.payment_intent(pi_of(failing)))["status"] == "succeeded"
    orphan_pi = await stripe_api.payment_intent(orphan)
    assert (orphan_pi["status"], orphan_pi["cancellation_reason"]) == ("canceled", "abandoned")
    async with backend.client() as http:
        for order in (uncaptured, failing):
            assert (await get_order(http, order["id"]))["status"] == "paid"

    second = await check(backend)
    # Only the bookkeeping error is left: no fix is safe for it, a person must look.
    assert found(second) == {(Kind.AMOUNT_MISMATCH.value, pi_of(mismatched))}
    async with services(backend).db.session() as s, s.begin():
        await s.execute(
            update(OrderRow)
            .where(OrderRow.id == mismatched["id"])
            .values(amount_captured=OrderRow.amount_captured - 100)
        )
    assert (await check(backend)).report.clean


async def test_command_line_reports_fixes_and_comes_back_clean(
    manual_backend: Backend, stripe_api: Stripe, emulator: EmulatorServer, database_url: str
) -> None:
    backend = manual_backend
    async with backend.client() as http:
        uncaptured = await authorize(http, backend)
    orphan = (
        await stripe_api.http.post(
            "/v1/payment_intents",
            data={"amount": "700", "currency": "usd", "payment_method_types[]": "card_present"},
        )
    ).json()["id"]
    env = {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": emulator.secret_key,
        "STRIPE_API_BASE": emulator.url,
    }

    def countertop(*args: str) -> Result:
        return CliRunner().invoke(app, ["reconcile", "--settle-minutes", "0", *args], env=env)

    dry = await asyncio.to_thread(countertop, "--format", "json")
    assert dry.exit_code == 1, dry.output
    body = json.loads(dry.stdout)
    assert {(d["kind"], d["payment_intent"]) for d in body["discrepancies"]} == {
        ("uncaptured_authorization", pi_of(uncaptured)),
        ("orphan_payment_intent", orphan),
    }
    assert body["actions"] == [] and body["fix"] is False

    fixed = await asyncio.to_thread(countertop, "--fix", "--format", "csv")
    assert fixed.exit_code == 0, fixed.output
    rows = list(csv.DictReader(io.StringIO(fixed.stdout)))
    assert {(r["kind"], r["fix_result"]) for r in rows} == {
        ("uncaptured_authorization", "done (succeeded)"),
        ("orphan_payment_intent", "done (canceled)"),
    }

    again = await asyncio.to_thread(countertop)
    assert again.exit_code == 0, again.output
    assert "no discrepancies" in again.stdout


def test_command_line_refuses_bad_input() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["reconcile", "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["reconcile", "--date", "23/11/2026"]).exit_code == 2
    assert runner.invoke(app, ["reconcile", "--tz", "Mars/Olympus"]).exit_code == 2
    unset = runner.invoke(app, ["reconcile"], env={"STRIPE_SECRET_KEY": None})
    assert unset.exit_code == 2 and "STRIPE_SECRET_KEY" in unset.output


async def test_a_fix_made_meanwhile_counts_as_done(manual_backend: Backend) -> None:
    backend = manual_backend
    async with backend.client() as http:
        order = await authorize(http, backend)
        # The capture lands (here from the till) between the report and the fix.
        assert (await http.post(f"/api/orders/{order['id']}/capture")).status_code == 200
    svc = services(backend)
    owner = {pi_of(order): order["attempts"][-1]["id"]}
    late = await reconcile.apply_fix(svc, Fix("capture", pi_of(order)), "recon_t", owner)
    assert (late.ok, late.status, late.error) == (True, "succeeded", None)
    # A cancel cannot be made on a captured payment: that stays a failure, with Stripe's reason.
    refused = await reconcile.apply_fix(
        svc, Fix("cancel", pi_of(order), cancellation_reason="abandoned"), "recon_t", owner
    )
    assert not refused.ok and refused.error
