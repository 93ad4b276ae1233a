"""One loop per backend instance: due outbox jobs first, then the sweep every interval.

Durable work lives in the database (outbox rows, attempt states), so a crash or a restart loses
nothing: the next pass, here or on another instance, picks it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from countertop.backend.services.capture import run_due_captures
from countertop.backend.services.context import Services
from countertop.backend.services.sweeps import sweep

log = logging.getLogger("countertop.worker")
MAX_NAP = 1.0
CAPTURE_BATCH = 50


class Worker:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.interval = max(svc.settings.sweep_interval_seconds, 0.01)
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="countertop-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> None:
        """Everything that is due now: capture jobs, then a sweep when its interval has passed."""
        self.svc.work_ready.clear()
        # A full batch may have left more due jobs behind; a partial one took every due job (a job
        # committed meanwhile sets `work_ready`, which brings the worker straight back).
        while await run_due_captures(self.svc, CAPTURE_BATCH) >= CAPTURE_BATCH:
            pass
        if time.monotonic() - self._last_sweep >= self.interval:
            self._last_sweep = time.monotonic()
            await sweep(self.svc)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker pass failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.svc.work_ready.wait(), timeout=min(self.interval, MAX_NAP)
                )
