"""Request ids: honoured or made up, echoed, and on every log line of the request."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from countertop.backend.logs import (
    RequestContextMiddleware,
    bind,
    configure_logging,
    log_access,
    log_context,
)
from countertop.backend.settings import Settings
from tests.backend.auth_support import client, started_app

log = logging.getLogger("countertop.test.requests")


def small_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.get("/orders/{order_id}")
    async def show(order_id: str) -> dict[str, str]:
        bind(order_id=order_id, payment_intent="pi_123")
        log.info("showing order")
        return {"id": order_id}

    @app.get("/orders/{order_id}/receipt")
    async def receipt(order_id: str) -> dict[str, str]:
        log.info("building receipt")
        return {"order": order_id}

    return app


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    settings = Settings(_env_file=None, COUNTERTOP_LOG_FORMAT="json")  # type: ignore[call-arg]
    handler = configure_logging(settings, stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    handler.close()


def records(stream: io.StringIO) -> list[dict[str, object]]:
    """The lines logged by the backend (not by the test's HTTP client)."""
    for handler in logging.getLogger().handlers:
        handler.flush()  # informational lines are written in batches
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if str(line["logger"]).startswith("countertop.")]


async def get(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get(path, headers=headers)


async def test_callers_request_id_is_echoed_and_logged(json_lines: io.StringIO) -> None:
    response = await get(small_app(), "/orders/ord_7", {"X-Request-Id": "till-3.req-42"})
    assert response.headers["x-request-id"] == "till-3.req-42"
    app_line, access_line = records(json_lines)
    assert app_line["message"] == "showing order"
    assert app_line["request_id"] == "till-3.req-42"
    assert app_line["order_id"] == "ord_7"
    assert app_line["payment_intent"] == "pi_123"
    assert access_line["logger"] == "countertop.access"
    assert access_line["request_id"] == "till-3.req-42"
    assert access_line["route"] == "/orders/{order_id}"
    assert access_line["status"] == 200


async def test_order_in_the_path_is_on_every_line(json_lines: io.StringIO) -> None:
    await get(small_app(), "/orders/ord_42/receipt")
    app_line, access_line = records(json_lines)
    assert app_line["message"] == "building receipt"
    assert app_line["order_id"] == access_line["order_id"] == "ord_42"


async def test_a_request_id_is_made_up_when_missing_or_unusable(json_lines: io.StringIO) -> None:
    fresh = await get(small_app(), "/orders/ord_1")
    hostile = await get(small_app(), "/orders/ord_1", {"X-Request-Id": "x\r\n injected: line"})
    long = await get(small_app(), "/orders/ord_1", {"X-Request-Id": "a" * 500})
    ids = [r.headers["x-request-id"] for r in (fresh, hostile, long)]
    assert all(len(i) == 32 for i in ids)
    assert len(set(ids)) == 3


async def test_ids_bound_in_one_request_do_not_leak_into_the_next(
    json_lines: io.StringIO,
) -> None:
    app = small_app()
    await get(app, "/orders/ord_1")
    with log_context(request_id="job-1"):
        log.info("background work")
    last = records(json_lines)[-1]
    assert last == {**last, "request_id": "job-1"}
    assert "order_id" not in last


async def test_the_backend_echoes_request_ids(tmp_path: Path) -> None:
    async with started_app("sqlite", tmp_path) as app, client(app) as http:
        response = await http.get("/metrics", headers={"X-Request-Id": "probe-1"})
        unknown = await http.get("/no/such/page")
    assert response.headers["x-request-id"] == "probe-1"
    assert unknown.status_code == 404
    assert unknown.headers["x-request-id"]


@pytest.mark.parametrize("form", ["text", "json"])
def test_the_direct_access_line_is_the_line_logging_would_write(form: str) -> None:
    """Access lines skip the logging machinery only when the result is the very same line."""
    stream = io.StringIO()
    settings = Settings(_env_file=None, COUNTERTOP_LOG_FORMAT=form)  # type: ignore[call-arg,arg-type]
    handler = configure_logging(settings, stream)
    access = logging.getLogger("countertop.access")
    seen: list[logging.LogRecord] = []

    def through_logging(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    try:
        with log_context(request_id="req-1", order_id="ord_1"):
            log_access("POST", "/api/orders/ord_1/payments", 201, 0.01234, "/api/orders/{id}")
            access.addFilter(through_logging)  # something else looks: logging does it all
            log_access("POST", "/api/orders/ord_1/payments", 201, 0.01234, "/api/orders/{id}")
            access.removeFilter(through_logging)
        handler.flush()
        direct, logged = stream.getvalue().splitlines()
    finally:
        access.removeFilter(through_logging)
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert len(seen) == 1, "the second line went through logging, the first did not"
    if form == "json":
        first, second = json.loads(direct), json.loads(logged)
        assert first.pop("time")[:13] == second.pop("time")[:13]
        assert first == second
        assert first["message"] == "POST /api/orders/ord_1/payments 201 12.3ms"
        assert first["request_id"] == "req-1" and first["duration_ms"] == 12.3
    else:
        assert direct.split(" ", 1)[1] == logged.split(" ", 1)[1]
        assert direct.split(" ", 1)[1] == (
            "INFO countertop.access POST /api/orders/ord_1/payments 201 12.3ms request_id=req-1 "
            "order_id=ord_1 route=/api/orders/{id} status=201 duration_ms=12.3"
        )


def test_informational_lines_wait_for_the_batch_and_warnings_do_not() -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(_env_file=None), stream)  # type: ignore[call-arg]
    try:
        with handler.lock:  # type: ignore[union-attr]  # the handler's thread cannot write meanwhile
            log.info("first")
            assert stream.getvalue() == "", "an informational line waits for its batch"
            log.warning("second")
            lines = stream.getvalue().splitlines()
            assert [line.split(" ", 3)[3] for line in lines] == ["first", "second"]
        log.info("third")
        for _ in range(500):  # written by the handler's thread within its delay
            if "third" in stream.getvalue():
                break
            time.sleep(0.01)
        assert stream.getvalue().splitlines()[-1].endswith("third")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
