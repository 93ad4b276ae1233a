"""System routes: the POS app's configuration and the health check (see docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from countertop.backend.settings import Settings

router = APIRouter(tags=["system"])


@router.get("/api/config", summary="Mode, simulator availability and default currency")
async def config(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "mode": settings.mode,
        "simulator": settings.mode == "emulator",
        "currency": settings.currency,
    }


@router.get("/healthz", summary="Liveness and database reachability")
async def healthz(request: Request) -> JSONResponse:
    db = getattr(request.app.state, "db", None)
    ok = db is not None
    if db is not None:
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            ok = False
    body = {"status": "ok" if ok else "unavailable", "database": ok}
    return JSONResponse(body, status_code=200 if ok else 503)
