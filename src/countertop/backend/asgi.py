"""The app factory uvicorn's worker processes import (`countertop serve --workers N`).

Each worker builds its own app from the environment: its own database pool, live hub and worker
loop, exactly as a separate backend instance would. Several workers therefore need what several
instances need: PostgreSQL (live updates cross processes through LISTEN/NOTIFY, outbox jobs are
leased) and a Stripe key (the built-in emulator lives in one process).
"""

from __future__ import annotations

from fastapi import FastAPI

from countertop.backend.app import create_app
from countertop.backend.settings import Settings


def create() -> FastAPI:
    return create_app(Settings(), freeze_gc=True)
