"""Capturing authorized payments: at once after authorization, on request, and retried durably.

A capture job is an outbox row committed with the authorization itself. A failed capture records
the error on the attempt (the order stays `authorized`, never `paid`) and reschedules the job with
backoff; each try uses a fresh idempotency key because Stripe replays a saved failure for a key.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from countertop.backend import metrics
from countertop.backend.errors import ApiError
from countertop.backend.services.attempts import active_attempt, stripe_unavailable
from countertop.backend.services.context import Services
from countertop.backend.services.orders import get_order_view
from countertop.backend.services.records import (
    ATTEMPT_BY_ID,
    CAPTURE,
    CAPTURE_LEASE,
    DROP_CAPTURE_JOB,
    Applied,
    apply,
)
from countertop.backend.services.sync import attempt_row, sync_attempt
from countertop.backend.store.base import detached
from countertop.backend.store.payments import AttemptRow, OrderRow, OutboxRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import AttemptStatus, CaptureFailed, CheckCapture, PaymentError
from countertop.domain.errors import IllegalTransition
from countertop.domain.observations import from_payment_intent

log = logging.getLogger("countertop.capture")
# Capture jobs tried at once: each mostly waits for Stripe, so a burst of sales is captured
# together instead of one after the other.
CONCURRENT_CAPTURES = 8


async def capture_attempt(
    svc: Services, attempt_id: str, cause: str, row: AttemptRow | None = None
) -> Applied | None:
    """Capture one authorized attempt; on failure record it and schedule the next try.

    `row` is the attempt as just read by the caller, if it has it.
    """
    if row is None:
        row = await attempt_row(svc, attempt_id)
    if row is None or row.status != AttemptStatus.AUTHORIZED or row.payment_intent_id is None:
        return None
    # Stripe's reports of this capture wait until it is recorded (`EventBatches.settling`).
    with svc.event_batches.settling(row.payment_intent_id):
        return await _capture(svc, attempt_id, cause, row, row.payment_intent_id)


async def _capture(
    svc: Services, attempt_id: str, cause: str, row: AttemptRow, payment_intent: str
) -> Applied | None:
    key = f"{attempt_id}:capture:{row.capture_failures}"
    try:
        intent = await svc.gateway.capture_payment_intent(payment_intent, idempotency_key=key)
    except StripeFailure as failure:
        log.warning("capture of %s failed: %s", payment_intent, failure)
        if not failure.network:
            # Perhaps captured already, or canceled or expired: Stripe's state decides.
            synced = await sync_attempt(svc, attempt_id, cause, check_reader=False)
            if synced is not None and synced.attempt.status is not AttemptStatus.AUTHORIZED:
                return synced
        error = PaymentError(failure.code, failure.message, failure.decline_code)
        metrics.record_payment_outcome("capture_failed")
        return await apply(svc, attempt_id, [CaptureFailed(error)], cause)
    observed = from_payment_intent(intent, row.amount)
    return await apply(svc, attempt_id, observed, cause, loaded=row)


async def capture_leased(svc: Services, row: AttemptRow) -> None:
    """Try the capture job that an authorization's commit leased to this process (`row`: the
    attempt as that commit wrote it). If the try never finishes, the lease runs out and the
    worker, here or on another instance, tries the job again."""
    try:
        applied = await capture_attempt(svc, row.id, "outbox:capture", row)
        if applied is None:
            await _drop(svc, DROP_CAPTURE_JOB, {"attempt_id": row.id})  # nothing to capture
    except Exception:
        log.exception("capture of %s crashed; it is tried again when its lease runs out", row.id)


async def capture_order(svc: Services, order: OrderRow) -> dict[str, Any]:
    """`POST /api/orders/{id}/capture`: capture the authorized attempt now."""
    row = await active_attempt(svc, order.id)
    if row is None or row.status != AttemptStatus.AUTHORIZED:
        if order.status in ("paid", "partially_refunded", "refunded"):
            view = await get_order_view(svc.db, order.id)
            assert view is not None
            return view  # captured already: asking again is harmless
        raise ApiError(
            409, "invalid_state", "Nothing to capture", f"Order {order.id} is {order.status}."
        )
    try:
        await apply(svc, row.id, [CheckCapture()], "api:capture")
    except IllegalTransition as illegal:
        raise ApiError(409, "invalid_state", "Nothing to capture", str(illegal)) from None
    applied = await capture_attempt(svc, row.id, "api:capture")
    if applied is not None and applied.attempt.status is AttemptStatus.AUTHORIZED:
        error = applied.attempt.capture_error
        raise stripe_unavailable(
            StripeFailure(error.code if error else "api_error", error.message if error else "")
        )
    view = await get_order_view(svc.db, order.id)
    assert view is not None
    return view


_DUE = (
    select(OutboxRow.id, OutboxRow.attempt_id)
    .where(OutboxRow.kind == CAPTURE, OutboxRow.due_at <= bindparam("now"))
    .order_by(OutboxRow.due_at)
    .limit(bindparam("limit"))
)


async def run_due_captures(svc: Services, limit: int = 50) -> int:
    """Try every capture job that is due; returns how many were tried."""
    now = svc.clock()
    async with svc.db.autocommit() as conn:
        jobs = list((await conn.execute(_DUE, {"now": now, "limit": limit})).all())
    gate = asyncio.Semaphore(CONCURRENT_CAPTURES)

    async def run(job_id: int, attempt_id: str) -> bool:
        async with gate:
            return await _run_job(svc, job_id, attempt_id, now)

    tried = await asyncio.gather(*(run(job_id, attempt_id) for job_id, attempt_id in jobs))
    return sum(tried)


async def _run_job(svc: Services, job_id: int, attempt_id: str, now: Any) -> bool:
    """Claim one capture job and try it; False when another worker (or instance) took it."""
    claimed, row = await _claim(svc, job_id, attempt_id, now)
    if not claimed:
        return False
    try:
        applied = await capture_attempt(svc, attempt_id, "outbox:capture", row)
    except Exception:  # the lease runs out and the job is tried again
        log.exception("capture job for %s crashed", attempt_id)
        return True
    if applied is None:
        await _drop(svc, _DROP_JOB, {"job_id": job_id})  # nothing left to capture
    return True


_LEASE_JOB = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("job_id"), OutboxRow.due_at <= bindparam("now"))
    .values(due_at=bindparam("leased_until"))
)
_DROP_JOB = delete(OutboxRow).where(OutboxRow.id == bindparam("job_id"))


async def _claim(
    svc: Services, job_id: int, attempt_id: str, now: Any
) -> tuple[bool, AttemptRow | None]:
    """Lease the job (so no other worker tries it meanwhile) and read its attempt, in one go."""
    async with svc.db.direct.begin() as conn:
        result = await conn.execute(
            _LEASE_JOB, {"job_id": job_id, "now": now, "leased_until": now + CAPTURE_LEASE}
        )
        if not result.rowcount:
            return False, None
        found = (await conn.execute(ATTEMPT_BY_ID, {"id": attempt_id})).first()
    return True, detached(AttemptRow, found) if found is not None else None


async def _drop(svc: Services, statement: Any, params: dict[str, Any]) -> None:
    """Delete a capture job (by its id, or by its attempt's)."""
    async with svc.db.session() as s, s.begin():
        await s.execute(statement, params)
