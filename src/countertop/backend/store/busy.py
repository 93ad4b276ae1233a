"""A database too busy to answer in time is a 503 the client can retry, never a 500.

SQLite allows one writer at a time: past its busy timeout a waiting writer gets `database is
locked`. A pool with every connection in use past its timeout raises the pool's TimeoutError. Both
mean "come back in a moment", so both are answered `503 busy` with `Retry-After`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from countertop.backend.errors import ApiError, problem

log = logging.getLogger("countertop.store")
RETRY_AFTER_SECONDS = 1
BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


def is_busy(error: BaseException) -> bool:
    """True for the errors that mean the database was busy, not that the statement was wrong."""
    if isinstance(error, PoolTimeout):
        return True
    if isinstance(error, OperationalError):
        text = str(error.orig if error.orig is not None else error).lower()
        return any(message in text for message in BUSY_MESSAGES)
    return False


def busy_problem() -> JSONResponse:
    return problem(
        ApiError(
            503,
            "busy",
            "Busy",
            "The database is busy; try again in a moment.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    )


def install_busy_handlers(app: FastAPI) -> None:
    async def _busy(request: Request, exc: Exception) -> JSONResponse:
        if not is_busy(exc):
            raise exc
        log.warning("database busy, answered 503: %s %s", request.method, request.url.path)
        return busy_problem()

    app.add_exception_handler(OperationalError, _busy)
    app.add_exception_handler(PoolTimeout, _busy)
