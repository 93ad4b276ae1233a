"""Reconciliation runs: read Stripe and our orders for a window, diff them, and apply the safe fixes.

The diff itself is pure (`countertop.domain.reconciliation`); this module does the reading and the
writing. Fixes go to Stripe through the gateway with an idempotency key per run and PaymentIntent,
then the attempt that owns the PaymentIntent is re-read from Stripe so our books follow at once
(the webhooks that follow find nothing left to change).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select

from countertop.backend.connect import ConnectedAccounts, ConnectGateway
from countertop.backend.services.context import Services, new_id
from countertop.backend.services.sync import sync_attempt
from countertop.backend.settings import Settings
from countertop.backend.store.db import Database
from countertop.backend.store.payments import AttemptRow, OrderRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.reconciliation import (
    DEFAULT_SETTLE_SECONDS,
    Fix,
    IntentSnapshot,
    OrderSnapshot,
    Report,
    reconcile,
)

log = logging.getLogger("countertop.reconcile")
Json = dict[str, Any]
# Keeps SQL `IN (...)` lists well under every database's parameter limit.
CHUNK = 500
# A window is read as this many time slices, at most PARALLEL_READS of them at once.
SLICES = 24
PARALLEL_READS = 4


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def day(cls, day: date, tz: tzinfo = UTC) -> Window:
        start = datetime.combine(day, time(0), tz)
        return cls(start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC))

    @property
    def start_ts(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_ts(self) -> int:
        return int(self.end.timestamp())


@dataclass(frozen=True)
class Outcome:
    """What happened when a fix was applied."""

    fix: Fix
    ok: bool
    status: str | None = None  # the PaymentIntent's status afterwards
    error: str | None = None

    def to_dict(self) -> Json:
        return {
            "action": self.fix.action,
            "payment_intent": self.fix.payment_intent,
            "amount_to_capture": self.fix.amount_to_capture,
            "cancellation_reason": self.fix.cancellation_reason,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
        }


@dataclass(frozen=True)
class Run:
    id: str
    window: Window
    fix: bool
    report: Report
    outcomes: tuple[Outcome, ...] = ()

    def to_dict(self) -> Json:
        return {
            "id": self.id,
            "fix": self.fix,
            **self.report.to_dict(),
            "actions": [o.to_dict() for o in self.outcomes],
        }


@dataclass
class Progress:
    """Callbacks a caller may pass to follow a long run (the CLI draws a progress bar)."""

    fetched: Callable[[int], None] = lambda n: None  # PaymentIntents read so far
    fixing: Callable[[int], None] = lambda total: None  # how many fixes will be applied
    fixed: Callable[[], None] = lambda: None  # one more fix applied


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


ORDER_COLUMNS = (
    OrderRow.id,
    OrderRow.status,
    OrderRow.currency,
    OrderRow.total,
    OrderRow.tip,
    OrderRow.amount_captured,
    OrderRow.amount_refunded,
)
ATTEMPT_COLUMNS = (
    AttemptRow.order_id,
    AttemptRow.created_at,
    AttemptRow.id,
    AttemptRow.payment_intent_id,
    AttemptRow.capture_error,
)


async def _orders(
    svc: Services, window: Window, named: set[str]
) -> tuple[list[OrderSnapshot], dict[str, str]]:
    """Our orders of the window plus those the PaymentIntents name; and PaymentIntent -> attempt.

    Plain rows, not ORM objects: a day may hold a hundred thousand orders.
    """
    in_window = (OrderRow.created_at >= window.start) & (OrderRow.created_at < window.end)
    async with svc.db.session() as s:
        orders = {r.id: r for r in await s.execute(select(*ORDER_COLUMNS).where(in_window))}
        attempts = list(
            await s.execute(
                select(*ATTEMPT_COLUMNS)
                .join(OrderRow, OrderRow.id == AttemptRow.order_id)
                .where(in_window)
            )
        )
        for part in _chunks(sorted(named - orders.keys())):
            extra = await s.execute(select(*ORDER_COLUMNS).where(OrderRow.id.in_(part)))
            orders.update((r.id, r) for r in extra)
            of_extra = select(*ATTEMPT_COLUMNS).where(AttemptRow.order_id.in_(part))
            attempts.extend(await s.execute(of_extra))
    intents: dict[str, list[str]] = {oid: [] for oid in orders}
    capture_errors: dict[str, str] = {}
    owner: dict[str, str] = {}
    for order_id, _, attempt_id, pi, capture_error in sorted(attempts, key=lambda a: (a[1], a[2])):
        if pi:
            intents[order_id].append(pi)
            owner[pi] = attempt_id
        if capture_error:
            capture_errors[order_id] = str(capture_error.get("code") or "capture_failed")
    snapshots = [
        OrderSnapshot(
            id=o.id,
            status=o.status,
            currency=o.currency,
            total=o.total,
            tip=o.tip,
            amount_captured=o.amount_captured,
            amount_refunded=o.amount_refunded,
            payment_intents=tuple(intents[o.id]),
            capture_error=capture_errors.get(o.id),
        )
        for o in orders.values()
    ]
    return snapshots, owner


async def _intents(svc: Services, window: Window, progress: Progress) -> list[IntentSnapshot]:
    """The window's PaymentIntents, read as a few time slices in parallel (Stripe pages by 100)."""
    step = max(1, -(-(window.end_ts - window.start_ts) // SLICES))
    bounds = [
        (t, min(t + step, window.end_ts)) for t in range(window.start_ts, window.end_ts, step)
    ]
    gate = asyncio.Semaphore(PARALLEL_READS)
    fetched = 0

    async def read(gte: int, lt: int) -> list[IntentSnapshot]:
        nonlocal fetched
        async with gate:
            raw = await svc.gateway.list_payment_intents(created_gte=gte, created_lt=lt)
        fetched += len(raw)
        progress.fetched(fetched)
        return [IntentSnapshot.from_stripe(pi) for pi in raw]

    slices = await asyncio.gather(*(read(gte, lt) for gte, lt in bounds))
    return [intent for part in slices for intent in part]


async def _missing_intents(svc: Services, ids: Iterable[str]) -> list[IntentSnapshot]:
    """PaymentIntents our orders name that were created outside the window."""
    found = []
    for pi in sorted(ids):
        try:
            found.append(IntentSnapshot.from_stripe(await svc.gateway.retrieve_payment_intent(pi)))
        except StripeFailure as failure:
            if failure.http_status != 404:
                raise
    return found


async def check(
    svc: Services,
    window: Window,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    settle_seconds: int = DEFAULT_SETTLE_SECONDS,
) -> tuple[Report, dict[str, str]]:
    """The report for a window (nothing changed) and which attempt owns each PaymentIntent."""
    progress = progress or Progress()
    intents = await _intents(svc, window, progress)
    named = {i.order_id for i in intents if i.order_id}
    orders, owner = await _orders(svc, window, named)
    seen = {i.id for i in intents}
    intents += await _missing_intents(svc, {pi for o in orders for pi in o.payment_intents} - seen)
    as_of = int((now or svc.clock()).timestamp())
    report = reconcile(
        intents,
        orders,
        start=window.start_ts,
        end=window.end_ts,
        as_of=as_of,
        settle_seconds=settle_seconds,
    )
    return report, owner


# What a PaymentIntent's status is once each fix has taken effect.
FIXED_STATUS = {"capture": "succeeded", "cancel": "canceled"}


async def _done_meanwhile(svc: Services, fix: Fix, failure: StripeFailure) -> Json | None:
    """The PaymentIntent, if someone else (the capture job, an operator) made the fix already."""
    if failure.network:
        return None
    try:
        intent = await svc.gateway.retrieve_payment_intent(fix.payment_intent)
    except StripeFailure:
        return None
    return intent if intent.get("status") == FIXED_STATUS[fix.action] else None


async def apply_fix(svc: Services, fix: Fix, run_id: str, owner: dict[str, str]) -> Outcome:
    key = f"reconcile:{run_id}:{fix.payment_intent}:{fix.action}"
    try:
        if fix.action == "capture":
            intent = await svc.gateway.capture_payment_intent_amount(
                fix.payment_intent, amount_to_capture=fix.amount_to_capture, idempotency_key=key
            )
        else:
            intent = await svc.gateway.cancel_payment_intent_with_reason(
                fix.payment_intent,
                cancellation_reason=fix.cancellation_reason or "abandoned",
                idempotency_key=key,
            )
    except StripeFailure as failure:
        meanwhile = await _done_meanwhile(svc, fix, failure)
        if meanwhile is None:
            log.warning("reconciliation could not %s: %s", fix.describe(), failure)
            return Outcome(fix, False, error=str(failure))
        intent = meanwhile
    attempt = owner.get(fix.payment_intent)
    if attempt is not None:
        try:
            await sync_attempt(svc, attempt, f"reconcile:{run_id}", check_reader=False)
        except Exception as exc:  # Stripe changed; the sweep and webhooks bring the order along
            log.warning("after %s the order could not be brought in step: %s", key, exc)
    return Outcome(fix, True, status=str(intent.get("status")))


async def run(
    svc: Services,
    window: Window,
    *,
    fix: bool = False,
    progress: Progress | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
    settle_seconds: int = DEFAULT_SETTLE_SECONDS,
) -> Run:
    """Reconcile the window; with `fix`, apply every safe fix and report each outcome."""
    progress = progress or Progress()
    run_id = run_id or new_id("recon")
    report, owner = await check(
        svc, window, progress=progress, now=now, settle_seconds=settle_seconds
    )
    outcomes: list[Outcome] = []
    if fix and report.fixes:
        progress.fixing(len(report.fixes))
        for one in report.fixes:
            outcomes.append(await apply_fix(svc, one, run_id, owner))
            progress.fixed()
    return Run(run_id, window, fix, report, tuple(outcomes))


@asynccontextmanager
async def standalone(settings: Settings) -> AsyncIterator[Services]:
    """Services outside the web app (the CLI): the database migrated, a gateway, no worker."""
    db = Database(settings.database_url)
    gateway = ConnectGateway(settings, ConnectedAccounts(db))
    try:
        await db.migrate()
        yield Services(db=db, gateway=gateway, settings=settings)
    finally:
        await gateway.close()
        await db.dispose()
