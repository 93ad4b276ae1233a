"""Fixtures for the backend's integration tests: emulator + backend over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from countertop.backend.store.db import Database
from countertop.emulator.server import EmulatorServer
from tests.backend.stack import Backend, Stripe, running_backend


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def stripe_api(emulator: EmulatorServer) -> AsyncIterator[Stripe]:
    api = Stripe(emulator)
    try:
        yield api
    finally:
        await api.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A fresh database with the migrations applied (a test module may seed its own instead)."""
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def backend(database_url: str, emulator: EmulatorServer) -> AsyncIterator[Backend]:
    async with running_backend(database_url, emulator) as started:
        yield started
