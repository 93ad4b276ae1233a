"""Imports every module that declares tables, so Alembic and the app see the whole schema."""

from countertop.backend.store import (  # noqa: F401
    connect,
    operators,
    payments,
    receipts,
    reconciliations,
    refunds,
)
