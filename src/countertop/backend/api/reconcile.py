"""Reconciliation routes (admin): run one for a day, list the runs, read a run's findings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from countertop.backend import reconcile_runs
from countertop.backend.api.deps import services
from countertop.backend.auth import Principal, require_admin
from countertop.backend.errors import ApiError
from countertop.backend.services.context import Services

router = APIRouter(prefix="/api/reconciliations", tags=["reconciliations"])
Admin = Annotated[Principal, Depends(require_admin)]
Svc = Annotated[Services, Depends(services)]


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date | None = Field(default=None, description="The day to reconcile (default: today).")
    tz: str = Field(default="UTC", max_length=64, description="IANA time zone of the day.")
    fix: bool = Field(default=False, description="Capture or cancel what is safe; else a dry run.")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            400,
            "validation_error",
            "Invalid request",
            f"Unknown time zone: {name}",
            errors=[{"loc": ["body", "tz"], "msg": "unknown time zone", "type": "value_error"}],
        ) from None


@router.post("", status_code=201, summary="Reconcile a day now (runs to completion)")
async def start_reconciliation(body: ReconcileIn, principal: Admin, svc: Svc) -> dict[str, Any]:
    tz = _zone(body.tz)
    day = body.date or dt.datetime.now(tz).date()
    row = await reconcile_runs.claim(
        svc, day, tz, fix=body.fix, trigger="api", requested_by=principal.id
    )
    assert row is not None  # only scheduled runs can find their day taken
    return reconcile_runs.run_json(await reconcile_runs.execute(svc, row))


@router.get("", summary="Recent reconciliation runs, newest first")
async def list_reconciliations(
    _: Admin, svc: Svc, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    rows = await reconcile_runs.recent(svc, limit)
    return {"data": [reconcile_runs.run_json(r, full=False) for r in rows]}


@router.get("/{run_id}", summary="A run with every discrepancy found and every fix applied")
async def get_reconciliation(run_id: str, _: Admin, svc: Svc) -> dict[str, Any]:
    row = await reconcile_runs.get(svc, run_id)
    if row is None:
        raise ApiError(404, "not_found", "Not found", f"No such reconciliation: {run_id}")
    return reconcile_runs.run_json(row)
