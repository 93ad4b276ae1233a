"""A database too busy to answer is a 503 with Retry-After that clients retry, never a 500."""

from __future__ import annotations

import sqlite3

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from countertop.backend.errors import install_error_handlers
from countertop.backend.store.busy import install_busy_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_busy_handlers(app)

    @app.post("/locked")
    async def locked() -> None:
        raise OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))

    @app.post("/pool")
    async def pool() -> None:
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    @app.post("/broken")
    async def broken() -> None:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    return app


async def _post(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path)


async def test_a_locked_sqlite_database_answers_busy_with_retry_after() -> None:
    response = await _post("/locked")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "busy"


async def test_an_exhausted_connection_pool_answers_busy() -> None:
    response = await _post("/pool")
    assert response.status_code == 503
    assert response.json()["code"] == "busy"


async def test_other_database_errors_are_not_disguised_as_busy() -> None:
    response = await _post("/broken")
    assert response.status_code == 500
