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

import itertools
import logging
import os
import re
import secrets
import string
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO, cast

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
    extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}
    return context_fields(extra)


def context_fields(extra: dict[str, Any]) -> dict[str, Any]:
    """The context ids (from `extra` first) and the other `extra` fields, masked by name."""
    fields: dict[str, Any] = {}
    for name, var in CONTEXT_FIELDS.items():
        value = extra.get(name) or var.get()
        if value:
            fields[name] = value
    if "order_id" not in fields:
        scope = REQUEST_SCOPE.get()
        order_id = scope.get("path_params", {}).get("order_id") if scope else None
        if isinstance(order_id, str):
            fields["order_id"] = order_id
    for name, value in extra.items():
        if name not in fields:
            fields[name] = MASK if REDACTOR.is_sensitive_name(name) else value
    return fields


@dataclass(frozen=True, slots=True)
class LineParts:
    """What a log line says: when, how bad, whose, what, the fields and any exception."""

    created: float
    level: str
    logger: str
    message: str
    fields: dict[str, Any]
    exception: str | None = None


class LineFormatter(logging.Formatter):
    """Formats a record, or the same parts given directly (`line`), as one redacted line."""

    def format(self, record: logging.LogRecord) -> str:
        exception = None
        if record.exc_info:
            exception = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return self.line(
            LineParts(
                record.created,
                record.levelname,
                record.name,
                record.getMessage(),
                record_fields(record),
                exception,
            )
        )

    def line(self, parts: LineParts) -> str:
        raise NotImplementedError


class TextFormatter(LineFormatter):
    """`2026-11-23T15:00:00.123Z INFO countertop.x message key=value ...`, redacted."""

    def line(self, parts: LineParts) -> str:
        words = [_timestamp(parts.created), parts.level, parts.logger, parts.message]
        words += [f"{name}={value}" for name, value in parts.fields.items()]
        line = " ".join(str(word) for word in words)
        if parts.exception:
            line += "\n" + parts.exception
        return REDACTOR.redact(line)


class JsonFormatter(LineFormatter):
    """One JSON object per line; every string in it redacted."""

    def line(self, parts: LineParts) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(parts.created),
            "level": parts.level,
            "logger": parts.logger,
            "message": parts.message,
        }
        entry.update(parts.fields)
        if parts.exception:
            entry["exception"] = parts.exception
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


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


# How long an informational line may wait to be written with the lines that follow it.
FLUSH_DELAY_SECONDS = 0.05
MAX_PENDING_LINES = 1000


class _CountertopHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs (a second call replaces it): writes in batches.

    Written one by one, every request's access line is a system call of its own (the
    interpreter lock given up and taken back around it). Lines below WARNING are collected and
    written together at most `FLUSH_DELAY_SECONDS` later by a small thread; a warning or an error
    is written at once, after the lines before it, so order holds and what matters is never
    held back. Stopping (logging's own exit hook) writes what is left.
    """

    def __init__(self, stream: TextIO, delay: float = FLUSH_DELAY_SECONDS) -> None:
        super().__init__(stream)
        self.delay = delay
        self._pending: list[str] = []
        self._due = threading.Event()
        self._writer: threading.Thread | None = None
        self._closed = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.enqueue(line, record.levelno)

    def enqueue(self, line: str, level: int) -> None:
        """Write a formatted line now (a warning or worse) or with the next batch."""
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line + self.terminator)
            if level >= logging.WARNING or len(self._pending) >= MAX_PENDING_LINES:
                self._write_pending()
            elif not self._due.is_set():
                self._due.set()
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(
                        target=self._write_later, name="log-writer", daemon=True
                    )
                    self._writer.start()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()

    def _write_pending(self) -> None:
        """Write and flush the collected lines (called with the handler's lock held)."""
        lines, self._pending = self._pending, []
        self._due.clear()
        try:
            if lines:
                self.stream.write("".join(lines))
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()
        except Exception:  # a closed or broken stream must not take the caller down
            pass

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            self._closed = True
            self._due.set()  # the writer wakes, finds the handler closed and ends
        super().close()

    def _write_later(self) -> None:
        while not self._closed:
            self._due.wait()
            if not self._closed:
                time.sleep(self.delay)
            self.flush()


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
    # The formatters print none of the caller's file, line, thread or process: not collecting
    # them saves a walk up the stack and three lookups on every record (logging's documented
    # optimisation).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = _CountertopHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CountertopHandler)]:
        root.removeHandler(old)
        old.close()
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
                log_access(scope["method"], scope["path"], status, elapsed, route)
                REQUEST_SCOPE.reset(scope_token)


def log_access(method: str, path: str, status: int, elapsed: float, route: str) -> None:
    """The request's access line: `METHOD path status 1.2ms`, with its route and duration.

    The hottest line of the backend (one per request), so when nothing but the handler of
    `configure_logging` would see it, it is formatted and handed to that handler directly: the
    same line, without the logging machinery's record, which cost more than the line itself.
    """
    ms = elapsed * 1000
    extra = {"route": route, "status": status, "duration_ms": round(ms, 1)}
    handler = _direct_handler()
    if handler is None:
        access_log.info("%s %s %d %.1fms", method, path, status, ms, extra=extra)
        return
    formatter = cast(LineFormatter, handler.formatter)
    message = f"{method} {path} {status:d} {ms:.1f}ms"
    parts = LineParts(time.time(), "INFO", access_log.name, message, context_fields(extra))
    line = formatter.line(parts)
    handler.enqueue(line, logging.INFO)


def _direct_handler() -> _CountertopHandler | None:
    """The handler an access line reaches, if it is the only one and nothing filters on the way."""
    if access_log.filters or not access_log.isEnabledFor(logging.INFO):
        return None
    logger = access_log
    while logger.parent is not None:  # up to the root, no handler of its own on the way
        if logger.handlers or not logger.propagate:
            return None
        logger = logger.parent
    if len(logger.handlers) != 1:  # the root: exactly our handler, unfiltered
        return None
    handler = logger.handlers[0]
    if (
        isinstance(handler, _CountertopHandler)
        and not handler.filters
        and handler.level <= logging.INFO
        and isinstance(handler.formatter, LineFormatter)
    ):
        return handler
    return None


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return _fresh_id()


# A fresh request id (32 characters) is this process's random prefix and a counter, both in
# lowercase letters: unique across instances and restarts, no random bytes drawn per request, and
# no digits, so the card-number redaction never takes an id (or a part of one) for a card number.
_LETTERS = string.ascii_lowercase


def _letters(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 26)
        out.append(_LETTERS[digit])
    return "".join(reversed(out))


def _fresh_id() -> str:
    return f"{_ID_PREFIX}{_letters(next(_ID_COUNTER), 10)}"


def _new_id_prefix() -> None:
    global _ID_PREFIX
    _ID_PREFIX = "".join(secrets.choice(_LETTERS) for _ in range(22))


_ID_PREFIX = ""
_new_id_prefix()
_ID_COUNTER = itertools.count(1)
os.register_at_fork(after_in_child=_new_id_prefix)  # a forked worker must not repeat its parent's


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
