"""Imports every module that declares tables, so Alembic and the app see the whole schema."""

from countertop.backend.store import operators, payments, receipts, reconciliations  # noqa: F401
