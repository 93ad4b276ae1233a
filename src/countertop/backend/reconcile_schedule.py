"""The daily reconciliation inside `countertop serve`, run by one instance only.

Each instance wakes at the configured local time (and up to `CATCH_UP` later, should it have been
down then). On PostgreSQL a session advisory lock keeps every other instance out while one runs;
on both databases the run's row, unique per day, is claimed before anything is read, so a day is
never reconciled twice by the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import text

from countertop.backend import reconcile_runs
from countertop.backend.services.context import Services
from countertop.backend.store.reconciliations import ReconciliationRow

log = logging.getLogger("countertop.reconcile")
LOCK_KEY = 727_002
CATCH_UP = timedelta(hours=6)
MAX_NAP = timedelta(minutes=15)


def parse_at(value: str) -> time | None:
    """`HH:MM` as a time of day; None for "off" (no scheduled run). Raises ValueError otherwise."""
    if value.strip().lower() in {"off", "none", "disabled", ""}:
        return None
    hours, _, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def due_day(now: datetime, at: time, tz: tzinfo) -> date | None:
    """The day whose reconciliation is due at `now`: the day before the latest run time that
    passed no longer than CATCH_UP ago; None between those windows."""
    local = now.astimezone(tz)
    latest = datetime.combine(local.date(), at, tz)
    if latest > local:
        latest -= timedelta(days=1)
    if local - latest > CATCH_UP:
        return None
    return latest.date() - timedelta(days=1)


def next_wake(now: datetime, at: time, tz: tzinfo) -> float:
    local = now.astimezone(tz)
    upcoming = datetime.combine(local.date(), at, tz)
    if upcoming <= local:
        upcoming += timedelta(days=1)
    return min(upcoming - local, MAX_NAP).total_seconds()


class DailyReconciliation:
    def __init__(self, svc: Services, at: time, tz: tzinfo, fix: bool) -> None:
        self.svc = svc
        self.at = at
        self.tz = tz
        self.fix = fix
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, svc: Services) -> DailyReconciliation | None:
        settings = svc.settings
        try:
            at = parse_at(settings.reconcile_at)
            tz = ZoneInfo(settings.reconcile_tz)
        except (ValueError, KeyError) as bad:
            log.error("daily reconciliation is off: bad COUNTERTOP_RECONCILE_AT/_TZ (%s)", bad)
            return None
        return None if at is None else cls(svc, at, tz, settings.reconcile_fix)

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[bool]:
        if self.svc.db.is_sqlite:
            yield True  # one file, one writer: the unique claim below is the guard
            return
        async with self.svc.db.engine.connect() as conn:
            got = bool(
                (await conn.execute(text(f"SELECT pg_try_advisory_lock({LOCK_KEY})"))).scalar()
            )
            try:
                yield got
            finally:
                if got:
                    await conn.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY})"))

    async def run_once(self, now: datetime | None = None) -> ReconciliationRow | None:
        """Reconcile the due day if no one has; returns the finished run when this instance ran it."""
        day = due_day(now or self.svc.clock(), self.at, self.tz)
        if day is None:
            return None
        async with self._exclusive() as mine:
            if not mine:
                return None
            row = await reconcile_runs.claim(
                self.svc, day, self.tz, fix=self.fix, trigger="schedule", scheduled=True
            )
            if row is None:
                return None
            log.info("daily reconciliation of %s started (%s)", day, row.id)
            return await reconcile_runs.execute(self.svc, row)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reconcile-daily")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("daily reconciliation failed; the next wake tries again")
            await asyncio.sleep(next_wake(self.svc.clock(), self.at, self.tz))


def start_daily(svc: Services) -> DailyReconciliation | None:
    """Start the daily run in this app (when Stripe is configured and a time is set)."""
    daily = DailyReconciliation.from_settings(svc) if svc.gateway.configured else None
    if daily is not None:
        daily.start()
    return daily


async def stop_daily(daily: DailyReconciliation | None) -> None:
    if daily is not None:
        await daily.stop()
