"""Fixtures for the authentication tests: the real app on SQLite or PostgreSQL, driven over HTTP.

The app starts without a Stripe key, so it talks to nothing; the admin comes from
COUNTERTOP_ADMIN_CREDENTIAL as in production, the demo operator is seeded here.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from countertop.backend import auth
from countertop.backend.app import create_app
from countertop.backend.settings import Settings
from tests.conftest import DATABASES, fresh_database

ADMIN_CREDENTIAL = "admin-" + secrets.token_urlsafe(24)
OPERATOR_CREDENTIAL = "till-" + secrets.token_urlsafe(24)
DEMO_LOCATIONS = ["tml_Demo1", "tml_Demo2"]
BASE_URL = "http://countertop.test"


def settings_for(url: str, **overrides: str) -> Settings:
    values = {"DATABASE_URL": url, "COUNTERTOP_ADMIN_CREDENTIAL": ADMIN_CREDENTIAL, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its start-up done and the demo operator seeded."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await auth.ensure_demo_operator(app.state.db, OPERATOR_CREDENTIAL, DEMO_LOCATIONS)
        yield app


@asynccontextmanager
async def started_app(kind: str, tmp_path: Path, **settings: str) -> AsyncIterator[FastAPI]:
    """The app, started and seeded, on a fresh database of the given kind."""
    async with (
        fresh_database(kind, tmp_path) as url,
        running_app(settings_for(url, **settings)) as started,
    ):
        yield started


@pytest.fixture(params=DATABASES, name="app")
async def app_on_each_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    """The started app on SQLite and on PostgreSQL (import this to use the `app` fixture)."""
    async with started_app(request.param, tmp_path) as started:
        yield started


def client(app: FastAPI, address: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def sign_in(http: httpx.AsyncClient, credential: str) -> str:
    """Sign in with the browser session; returns the CSRF token."""
    response = await http.post("/api/session", json={"credential": credential})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
