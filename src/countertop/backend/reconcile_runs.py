"""Recorded reconciliation runs: claim a row, run, store the result (admin API and schedule)."""

from __future__ import annotations

import logging
from datetime import date, tzinfo
from typing import Any

from sqlalchemy.exc import IntegrityError

from countertop.backend import reconcile
from countertop.backend.services.context import Services, new_id
from countertop.backend.store import reconciliations as store
from countertop.backend.store.reconciliations import ReconciliationRow
from countertop.backend.stripe_gateway import StripeFailure

log = logging.getLogger("countertop.reconcile")
Json = dict[str, Any]


def run_json(row: ReconciliationRow, *, full: bool = True) -> Json:
    out: Json = {
        "id": row.id,
        "date": row.day,
        "tz": row.tz,
        "start": int(row.start_at.timestamp()),
        "end": int(row.end_at.timestamp()),
        "fix": row.fix,
        "trigger": row.trigger,
        "requested_by": row.requested_by,
        "status": row.status,
        "discrepancy_count": row.discrepancies,
        "error": row.error,
        "created": int(row.created_at.timestamp() * 1000),
        "finished": None if row.finished_at is None else int(row.finished_at.timestamp() * 1000),
    }
    if full:
        result = row.result or {}
        out["discrepancies"] = result.get("discrepancies", [])
        out["actions"] = result.get("actions", [])
        out["payment_intents_checked"] = result.get("payment_intents_checked")
        out["orders_checked"] = result.get("orders_checked")
    return out


async def claim(
    svc: Services,
    day: date,
    tz: tzinfo,
    *,
    fix: bool,
    trigger: str,
    requested_by: str | None = None,
    scheduled: bool = False,
) -> ReconciliationRow | None:
    """Record a run as started; None when it is the scheduled run of a day already claimed."""
    window = reconcile.Window.day(day, tz)
    row = ReconciliationRow(
        id=new_id("recon"),
        day=day.isoformat(),
        tz=str(tz),
        start_at=window.start,
        end_at=window.end,
        fix=fix,
        trigger=trigger,
        requested_by=requested_by,
        scheduled_for=day.isoformat() if scheduled else None,
        status="running",
        created_at=svc.clock(),
    )
    try:
        async with svc.db.session() as s, s.begin():
            s.add(row)
    except IntegrityError:
        return None
    return row


async def execute(
    svc: Services, row: ReconciliationRow, progress: reconcile.Progress | None = None
) -> ReconciliationRow:
    """Run the claimed reconciliation and store its outcome, failed or not."""
    window = reconcile.Window(row.start_at, row.end_at)
    result: Json | None = None
    error: str | None = None
    try:
        done = await reconcile.run(
            svc,
            window,
            fix=row.fix,
            progress=progress,
            run_id=row.id,
            settle_seconds=int(svc.settings.reconcile_settle_minutes * 60),
        )
        result = done.to_dict()
    except StripeFailure as failure:
        log.warning("reconciliation %s could not read Stripe: %s", row.id, failure)
        error = f"Stripe could not be read: {failure}"
    async with svc.db.session() as s, s.begin():
        stored = await s.get(ReconciliationRow, row.id)
        assert stored is not None
        stored.status = "failed" if error else "done"
        stored.error = error
        stored.result = result
        stored.discrepancies = len(result["discrepancies"]) if result else None
        stored.finished_at = svc.clock()
        if error:
            stored.scheduled_for = None  # a failed scheduled run leaves its day to the next wake
    return stored


async def get(svc: Services, run_id: str) -> ReconciliationRow | None:
    async with svc.db.session() as s:
        return await s.get(ReconciliationRow, run_id)


async def recent(svc: Services, limit: int = 50) -> list[ReconciliationRow]:
    async with svc.db.session() as s:
        return await store.recent(s, limit)
