"""Imports every module that declares tables, so Alembic and the app see the whole schema."""
