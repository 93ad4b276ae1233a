"""Logging: one line per record, as text or JSON (`COUNTERTOP_LOG_FORMAT`), never with a secret.

Every line carries the request id (from the caller's `X-Request-Id`, or a fresh one, echoed in the
response) and, when known, the order id and PaymentIntent id. Code that learns them calls::

    bind(order_id="ord_...", payment_intent="pi_...")   # for the rest of this request / task
    with log_context(order_id=...): ...                  # for a block (background jobs)

or passes them per line: `log.info("captured", extra={"order_id": ..., "payment_intent": ...})`.
All output passes through `countertop.backend.redaction` in the handler's formatter, so
secrets, credentials, signatures and card numbers never reach a log line, whoever logged them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from countertop.backend import metrics
from countertop.backend.redaction import MASK, REDACTOR, add_secret
from countertop.backend.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
ORDER_ID: ContextVar[str | None] = ContextVar("order_id", default=None)
PAYMENT_INTENT: ContextVar[str | None] = ContextVar("payment_intent", default=None)
CONTEXT_FIELDS = {"request_id": REQUEST_ID, "order_id": ORDER_ID, "payment_intent": PAYMENT_INTENT}
# The current request's ASGI scope: once routed, its path parameters name the order it is about.
REQUEST_SCOPE: ContextVar[Scope | None] = ContextVar("request_scope", default=None)

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

access_log = logging.getLogger("countertop.access")


def bind(*, order_id: str | None = None, payment_intent: str | None = None) -> None:
    """Attach ids to every later log line of the current request or task."""
    if order_id is not None:
        ORDER_ID.set(order_id)
    if payment_intent is not None:
        PAYMENT_INTENT.set(payment_intent)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Attach `request_id`, `order_id` and/or `payment_intent` to the lines logged in the block."""
    tokens = [
        (CONTEXT_FIELDS[name], CONTEXT_FIELDS[name].set(value)) for name, value in fields.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context ids and `extra=` fields of a record, secrets masked by field name."""
    fields: dict[str, Any] = {}
    for name, var in CONTEXT_FIELDS.items():
        value = record.__dict__.get(name) or var.get()
        if value:
            fields[name] = value
    if "order_id" not in fields:
        scope = REQUEST_SCOPE.get()
        order_id = scope.get("path_params", {}).get("order_id") if scope else None
        if isinstance(order_id, str):
            fields["order_id"] = order_id
    for name, value in record.__dict__.items():
        if name not in _STANDARD_ATTRS and name not in fields:
            fields[name] = MASK if REDACTOR.is_sensitive_name(name) else value
    return fields


class TextFormatter(logging.Formatter):
    """`2026-11-23T15:00:00.123Z INFO countertop.x message key=value ...`, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts += [f"{name}={value}" for name, value in record_fields(record).items()]
        line = " ".join(str(part) for part in parts)
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return REDACTOR.redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every string in it redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(record_fields(record))
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return orjson.dumps(_redact_value(entry), default=str).decode()


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if isinstance(value, dict):
        return {
            str(k): MASK if REDACTOR.is_sensitive_name(str(k)) else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return REDACTOR.redact(str(value))


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class _CountertopHandler(logging.StreamHandler[TextIO]):
    """Marks the handler `configure_logging` installed, so a second call replaces it."""


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records (uvicorn's too) through one redacting handler on stderr."""
    for secret in (
        settings.stripe_secret_key,
        settings.stripe_webhook_secret,
        settings.admin_credential,
        settings.operator_credential,
        settings.session_secret,
    ):
        if secret is not None:
            add_secret(secret.get_secret_value())
    handler = _CountertopHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CountertopHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Requests are logged once, by the middleware below, with their request id.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # The stripe library and httpx log every call at INFO; the gateway's own lines carry the ids
    # that matter, so theirs are kept for warnings and errors unless DEBUG is asked for.
    if root.level > logging.DEBUG:
        for name in ("stripe", "httpx", "alembic.runtime.migration"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler


class RequestContextMiddleware:
    """Gives each HTTP request an id, echoes it, logs and counts the request when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status = 500
        first_byte: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
                first_byte = time.perf_counter() - started
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        scope_token = REQUEST_SCOPE.set(scope)
        with log_context(request_id=request_id, order_id=None, payment_intent=None):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                metrics.record_http_request(
                    scope["method"], route, status, elapsed if first_byte is None else first_byte
                )
                access_log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )
                REQUEST_SCOPE.reset(scope_token)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
