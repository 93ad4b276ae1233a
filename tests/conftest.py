"""Suite-wide switches.

Tests marked `postgres` need a running PostgreSQL; they are collected only when
COUNTERTOP_TEST_POSTGRES=1 (as `make test` sets), and left out of the run otherwise.
"""

from __future__ import annotations

import os

import pytest

POSTGRES_ENABLED = os.environ.get("COUNTERTOP_TEST_POSTGRES") == "1"
POSTGRES_URL = os.environ.get(
    "COUNTERTOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_ENABLED:
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    left_out = [item for item in items if item.get_closest_marker("postgres") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
