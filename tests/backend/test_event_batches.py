"""Webhook events that arrive together are written together, and each is still stored and applied
exactly once: a burst of every event of a sale, each delivered twice at the same moment."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from countertop.backend.services import event_batches
from countertop.backend.services import events as events_module
from countertop.backend.store import direct
from countertop.backend.store.payments import WebhookEventRow
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Backend, Stripe, eventually, running_backend
from tests.backend.test_webhooks import sign

Json = dict[str, Any]


def _about(event: Json, payment_intent: str) -> bool:
    obj = event["data"]["object"]
    if obj.get("id") == payment_intent or obj.get("payment_intent") == payment_intent:
        return True
    action = obj.get("action") or {}
    return (action.get("process_payment_intent") or {}).get("payment_intent") == payment_intent


async def _events_of(stripe_api: Stripe, payment_intent: str) -> list[Json]:
    response = await stripe_api.http.get("/v1/events", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["data"] if _about(e, payment_intent)]


def _stranger() -> Json:
    """An event about a PaymentIntent that is none of ours (another integration's)."""
    return {
        "id": "evt_not_ours_1",
        "object": "event",
        "type": "payment_intent.created",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "pi_not_ours", "object": "payment_intent", "amount": 99}},
    }


async def _burst(backend: Backend, events: list[Json]) -> list[httpx.Response]:
    secret: str = backend.app.state.webhook_secret
    bodies = [json.dumps(e).encode() for e in events]
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=backend.url, limits=limits, timeout=30) as stripe_side:
        return await asyncio.gather(
            *(
                stripe_side.post(
                    "/webhooks/stripe",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "Stripe-Signature": sign(body, secret),
                    },
                )
                for body in bodies
            )
        )


async def _authorized_sale(
    http: httpx.AsyncClient, backend: Backend, stripe_api: Stripe, amount: int
) -> tuple[Json, Json]:
    """An order paid by card on the first demo reader, authorized at Stripe (the order and its
    attempt as they were when the payment started)."""
    reader = backend.demo.reader_ids[0]
    order = await create_order(http, backend.demo.location_id, amount=amount)
    attempt = await start(http, order["id"], reader)
    await present(http, reader, card_number="4242424242424242")

    async def authorized() -> bool:
        pi = await stripe_api.payment_intent(attempt["payment_intent"])
        return bool(pi["status"] == "requires_capture")

    await eventually(authorized)
    return order, attempt


@pytest.mark.parametrize("batches", ["written together", "failing, so one by one"])
async def test_a_burst_of_a_sales_events_each_twice_is_stored_and_applied_once(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe, batches: str
) -> None:
    # Stripe's own deliveries are lost, and the sweep is far off: the burst alone tells the backend.
    await stripe_api.control("POST", "webhooks/faults", {"kind": "drop", "count": None})
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600"
    ) as backend:
        writer = backend.app.state.services.event_batches
        sizes: list[int] = []
        write = writer._write

        async def counted(batch: list[Any]) -> Any:
            sizes.append(len(batch))
            if batches != "written together":
                raise ConnectionError("the database went away mid-batch")
            return await write(batch)

        writer._write = counted
        async with backend.client() as http:
            order, attempt = await _authorized_sale(http, backend, stripe_api, 2600)
            payment_intent = attempt["payment_intent"]
            events = await _events_of(stripe_api, payment_intent)
            types = {e["type"] for e in events}
            assert {"charge.succeeded", "payment_intent.amount_capturable_updated"} <= types
            answers = await _burst(backend, [*events, *events, _stranger()])
            paid = await wait_order(http, order["id"], "paid")
            # Stripe's reports of the capture, also delivered together, twice each.
            await eventually(lambda: _has_capture_events(stripe_api, payment_intent))
            captured = [e for e in await _events_of(stripe_api, payment_intent) if e not in events]
            again = await _burst(backend, [*captured, *captured, *events])
            final = await get_order(http, order["id"])
        await stripe_api.control("DELETE", "webhooks/faults")

    assert all(a.status_code == 200 for a in [*answers, *again]), [a.text for a in answers]
    fresh = Counter(
        e["id"]
        for e, a in zip([*events, *events, _stranger()], answers, strict=True)
        if a.json() == {"received": True}
    )
    # A reader event is applied by reading Stripe after it is stored: a copy that arrives in the
    # meantime finds it stored and not yet applied, and applies it too (idempotently).
    assert fresh == Counter(
        {e["id"]: fresh[e["id"]] if e["type"].startswith("terminal.reader.") else 1 for e in events}
        | {"evt_not_ours_1": 1}
    )
    assert set(fresh) == {e["id"] for e in [*events, _stranger()]}
    assert all(
        a.json() == {"received": True, "duplicate": True} for a in again[2 * len(captured) :]
    )
    assert sum(a.json() == {"received": True} for a in again) == len(captured)
    assert paid["amount_captured"] == final["amount_captured"] == 2600
    assert [(a["status"], a["payment_intent"]) for a in final["attempts"]] == [
        ("captured", payment_intent)
    ]
    steps = [(h["entity"], h["from"], h["to"]) for h in final["history"]]
    assert len(steps) == len(set(steps)), steps  # no step taken twice
    pi = await stripe_api.payment_intent(payment_intent)
    assert pi["amount_received"] == 2600 and pi["status"] == "succeeded"
    if batches == "written together":
        assert max(sizes) > 1  # the burst did go together
    else:
        assert sizes  # every batch failed, and every event was still stored and applied


async def _has_capture_events(stripe_api: Stripe, payment_intent: str) -> bool:
    types = {e["type"] for e in await _events_of(stripe_api, payment_intent)}
    return "payment_intent.succeeded" in types


async def test_a_sales_reports_arriving_together_are_decided_in_one_batch(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    """The charge, PaymentIntent and reader reports of one authorization land in one batch, each
    delivered twice: the first is applied, the others are old news to the attempt it leaves
    authorized and are stored as applied in the same transaction, and each second delivery is told
    it is a duplicate; none goes on its own, and Stripe is not asked."""
    await stripe_api.control("POST", "webhooks/faults", {"kind": "drop", "count": None})
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600",
        COUNTERTOP_AUTO_CAPTURE="false",
    ) as backend:  # fmt: skip
        services = backend.app.state.services
        alone: list[str] = []
        store_alone = events_module._store_event

        async def counted(svc: Any, event: Json, *args: Any) -> Any:
            alone.append(event["type"])
            return await store_alone(svc, event, *args)

        events_module._store_event = counted  # type: ignore[assignment]
        reads = []
        retrieve = services.gateway.retrieve_payment_intent

        async def read(payment_intent: str, **kw: Any) -> Any:
            reads.append(payment_intent)
            return await retrieve(payment_intent, **kw)

        services.gateway.retrieve_payment_intent = read
        try:
            async with backend.client() as http:
                order, attempt = await _authorized_sale(http, backend, stripe_api, 2700)
                payment_intent = attempt["payment_intent"]
                kinds = (
                    "charge.succeeded",
                    "payment_intent.amount_capturable_updated",
                    "terminal.reader.action_succeeded",
                )
                found = {e["type"]: e for e in await _events_of(stripe_api, payment_intent)}
                sale = [found[kind] for kind in kinds]
                # Queued in one go: the writer starts after all six are waiting.
                outcomes = await asyncio.gather(
                    *(
                        services.event_batches.store(e, json.dumps(e).encode(), payment_intent)
                        for e in [*sale, *sale]
                    )
                )
                after = await get_order(http, order["id"])
        finally:
            events_module._store_event = store_alone  # type: ignore[assignment]
            await stripe_api.control("DELETE", "webhooks/faults")
        async with services.db.session() as s:
            stored = await s.execute(
                select(WebhookEventRow.type, WebhookEventRow.processed_at).where(
                    WebhookEventRow.id.in_([e["id"] for e in sale])
                )
            )
            processed = {row.type: row.processed_at is not None for row in stored}

    assert [outcome and outcome[0] for outcome in outcomes] == ["settled"] * 3 + ["done"] * 3
    assert processed == dict.fromkeys(kinds, True)
    assert alone == [] and reads == []
    assert after["status"] == "authorized"
    assert [a["status"] for a in after["attempts"]] == ["authorized"]
    steps = [(h["entity"], h["from"], h["to"]) for h in after["history"]]
    assert steps.count((f"attempt:{attempt['id']}", "on_reader", "authorized")) == 1


async def test_reports_about_a_sale_remembered_settled_are_stored_without_reading_it(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    """Once this process has captured an attempt, Stripe's later reports of it (here sent again
    under new ids, as retries and late copies come) are old news to it as remembered: stored as
    applied, with no read of the attempt. News does still reach it: a refund made at Stripe."""
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600"
    ) as backend:
        async with backend.client() as http:
            order = await create_order(http, backend.demo.location_id, amount=3100)
            reader = backend.demo.reader_ids[0]
            attempt = await start(http, order["id"], reader)
            await present(http, reader)
            await wait_order(http, order["id"], "paid")
            payment_intent = attempt["payment_intent"]
            await eventually(lambda: _has_capture_events(stripe_api, payment_intent))
            await stripe_api.flush()
            copies = [
                {**e, "id": f"evt_copy_{n}"}
                for n, e in enumerate(await _events_of(stripe_api, payment_intent))
                if not e["type"].startswith("terminal.reader.")
            ]
            statements: list[str] = []
            run = direct.Lane.run

            async def seen(
                lane: direct.Lane, plan: direct.Plan, arguments: list[Any]
            ) -> direct.Result:
                statements.append(plan.sql)
                return await run(lane, plan, arguments)

            direct.Lane.run = seen  # type: ignore[method-assign,assignment]
            try:
                answers = await _burst(backend, copies)
            finally:
                direct.Lane.run = run  # type: ignore[method-assign]
            assert [a.json() for a in answers] == [{"received": True}] * len(copies)
            assert statements and not [s for s in statements if "FROM attempts" in s]
            refunded = await stripe_api.http.post(
                "/v1/refunds", data={"payment_intent": payment_intent}
            )
            assert refunded.status_code == 200, refunded.text
            final = await wait_order(http, order["id"], "refunded")
        async with backend.app.state.services.db.engine.connect() as conn:
            stored = set(
                (
                    await conn.execute(
                        select(WebhookEventRow.processed_at, WebhookEventRow.id).where(
                            WebhookEventRow.id.like("evt_copy_%")
                        )
                    )
                ).all()
            )
    assert final["amount_refunded"] == 3100
    assert len(stored) == len(copies) and all(processed for processed, _ in stored)


async def test_reports_of_a_capture_wait_until_the_capture_is_recorded(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    """Stripe reports a capture as it makes it, so its reports can reach the backend before the
    answer to the capture does. Here they surely do: the answer is held back half a second. They
    wait for the capture to be recorded, which records the capture once, as the capture's own
    step, and are then stored as old news, with no read of the attempt."""
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600"
    ) as backend:
        services = backend.app.state.services
        capture = services.gateway.capture_payment_intent

        capturing = False

        async def answered_late(payment_intent: str, **kw: Any) -> Any:
            nonlocal capturing
            capturing = True  # the statements from here on are counted
            answer = await capture(payment_intent, **kw)
            await asyncio.sleep(0.5)  # Stripe's reports of the capture arrive meanwhile
            return answer

        services.gateway.capture_payment_intent = answered_late
        statements: list[str] = []
        run = direct.Lane.run

        async def seen(lane: direct.Lane, plan: direct.Plan, arguments: list[Any]) -> direct.Result:
            if capturing:
                statements.append(plan.sql)
            return await run(lane, plan, arguments)

        async with backend.client() as http:
            order = await create_order(http, backend.demo.location_id, amount=3300)
            reader = backend.demo.reader_ids[0]
            attempt = await start(http, order["id"], reader)
            direct.Lane.run = seen  # type: ignore[method-assign,assignment]
            try:
                await present(http, reader)
                paid = await wait_order(http, order["id"], "paid")
                payment_intent = attempt["payment_intent"]
                await eventually(lambda: _has_capture_events(stripe_api, payment_intent))
                await stripe_api.flush()
            finally:
                direct.Lane.run = run  # type: ignore[method-assign]
            final = await get_order(http, order["id"])
        async with services.db.engine.connect() as conn:
            reports = (
                await conn.execute(
                    select(WebhookEventRow.type, WebhookEventRow.processed_at).where(
                        WebhookEventRow.type.in_(["charge.captured", "payment_intent.succeeded"])
                    )
                )
            ).all()

    assert paid["amount_captured"] == final["amount_captured"] == 3300
    captured = [
        h for h in final["history"] if h["entity"].startswith("attempt:") and h["to"] == "captured"
    ]
    assert [h["cause"] for h in captured] == ["outbox:capture"]
    # The backend's endpoint takes no charge events: the capture's report is its PaymentIntent's.
    assert [r.type for r in reports] == ["payment_intent.succeeded"]
    assert all(r.processed_at is not None for r in reports)
    assert statements and not [s for s in statements if "FROM attempts" in s and "FOR UPDATE" in s]


async def test_a_report_waits_for_a_capture_in_progress_at_most_a_while(
    database_url: str, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report about a PaymentIntent being captured here waits for the capture to end, and goes
    on when it ends; if the capture takes longer than `SETTLING_WAIT`, it goes on without it."""
    monkeypatch.setattr(event_batches, "SETTLING_WAIT", 0.3)
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600"
    ) as backend:
        writer = backend.app.state.services.event_batches

        def report(n: int, kind: str) -> Json:
            return {
                "id": f"evt_report_{n}",
                "object": "event",
                "type": kind,
                "created": int(time.time()),
                "livemode": False,
                "data": {"object": {"id": "pi_elsewhere", "object": "payment_intent"}},
            }

        async def stored(event: Json) -> Any:
            return await writer.store(event, json.dumps(event).encode(), "pi_elsewhere")

        with writer.settling("pi_elsewhere"):
            waiting = asyncio.ensure_future(stored(report(1, "payment_intent.succeeded")))
            reader_event = await stored(report(2, "terminal.reader.action_succeeded"))
            await asyncio.sleep(0.1)
            assert not waiting.done()  # a report of state waits; a reader event does not
        assert (await waiting)[0] == "settled"
        assert reader_event is not None

        with writer.settling("pi_elsewhere"):
            began = time.perf_counter()
            late = await stored(report(3, "charge.captured"))
            waited = time.perf_counter() - began
        assert late[0] == "settled" and waited >= 0.25


async def test_the_authorization_of_a_payment_handed_over_here_reads_its_attempt_once(
    database_url: str, emulator: EmulatorServer
) -> None:
    """The report that a payment this process handed to a reader is authorized is news: its
    batch reads the attempt once, locked, and not first unlocked only to read it again."""
    async with running_backend(
        database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600", COUNTERTOP_WEBHOOK_GRACE="3600"
    ) as backend:
        statements: list[str] = []
        run = direct.Lane.run

        async def seen(lane: direct.Lane, plan: direct.Plan, arguments: list[Any]) -> direct.Result:
            statements.append(plan.sql)
            return await run(lane, plan, arguments)

        async with backend.client() as http:
            order = await create_order(http, backend.demo.location_id, amount=2900)
            reader = backend.demo.reader_ids[0]
            await start(http, order["id"], reader)
            direct.Lane.run = seen  # type: ignore[method-assign,assignment]
            try:
                await present(http, reader)
                paid = await wait_order(http, order["id"], "paid")
            finally:
                direct.Lane.run = run  # type: ignore[method-assign]
    reads = [s for s in statements if s.lstrip().startswith("SELECT") and "FROM attempts" in s]
    assert paid["amount_captured"] == 2900
    assert len(reads) == 1, reads
