"""The emulator as an ASGI application (Starlette), and the wire protocol around every request.

A request goes: authentication, ``Stripe-Account``, route match, parameter decoding,
``Idempotency-Key`` (replay, mismatch, in flight), injected faults, the resource handler (run with
the emulator lock held), ``expand[]``, then the JSON answer with ``Request-Id``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from countertop.emulator import controls, errors, forms
from countertop.emulator.context import DEFAULT_API_VERSION, Ctx
from countertop.emulator.emulator import Emulator
from countertop.emulator.ids import request_id
from countertop.emulator.listing import expand
from countertop.emulator.params import expand_paths
from countertop.emulator.resources import ROUTES
from countertop.emulator.routing import Router
from countertop.emulator.versions import render

logger = logging.getLogger("countertop.emulator")
_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]{1,250}$")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_ROOT = orjson.dumps(
    {
        "object": "emulator",
        "name": "countertop Stripe Terminal emulator",
        "livemode": False,
        "docs": "Stripe API v1 under /v1, simulation controls under /_emulator",
    }
)


class DroppedResponse(Exception):
    """Raised after the headers went out, so the server closes the connection mid-answer."""


_ACCEPTED: set[str] = set()  # Authorization headers already checked, so the regex runs once each


def _api_key(authorization: str | None) -> None:
    if authorization in _ACCEPTED:
        return
    if not authorization:
        raise errors.unauthorized(_NO_KEY)
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            value = ""
    elif scheme.lower() != "bearer":
        value = ""
    if not value:
        raise errors.unauthorized(_NO_KEY)
    if not _KEY.match(value):
        shown = value[:8] + "*" * max(0, len(value) - 12) + value[-4:]
        raise errors.unauthorized(f"Invalid API Key provided: {shown}")
    if len(_ACCEPTED) < 10_000:
        _ACCEPTED.add(authorization)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


_DEFAULT_VERSION = DEFAULT_API_VERSION.encode()


def _headers(
    status: int,
    rid: str,
    extra: dict[str, str] | None,
    length: int,
    echo: list[tuple[bytes, bytes]] | None = None,
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(length).encode()),
        (b"request-id", rid.encode()),
        (b"access-control-allow-origin", b"*"),
    ]
    # Stripe answers with the version the request was rendered at, and echoes the account and the
    # idempotency key it acted under (the libraries expose them as `lastResponse` fields).
    if echo:
        headers.extend(echo)
    else:
        headers.append((b"stripe-version", _DEFAULT_VERSION))
    if extra:
        headers.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
    return headers


def _echo(headers: dict[str, str], method: str) -> list[tuple[bytes, bytes]]:
    """The request headers Stripe repeats in its answer: version, account, idempotency key."""
    version = headers.get("stripe-version") or DEFAULT_API_VERSION
    echo = [(b"stripe-version", version.encode("latin-1"))]
    account = headers.get("stripe-account")
    if account:
        echo.append((b"stripe-account", account.encode("latin-1")))
    key = headers.get("idempotency-key") if method == "POST" else None
    if key:
        echo.append((b"idempotency-key", key.encode("latin-1")))
    return echo


async def _send(
    send: Send,
    status: int,
    body: bytes,
    rid: str,
    extra: dict[str, str] | None = None,
    echo: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _headers(status, rid, extra, len(body), echo),
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error_body(error: errors.StripeError, rid: str) -> bytes:
    body = error.body()
    body["error"]["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{rid}"
    return orjson.dumps(body)


# Stored objects live until deleted and hold no reference cycles, so once they are old the
# cyclic garbage collector only wastes time scanning them: a full collection over a large store
# stalls every request for tens of milliseconds. They are frozen out of its sight every so often.
FREEZE_EVERY = 5_000


class Dispatcher:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.router = Router(ROUTES)
        self._until_freeze = FREEZE_EVERY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        emulator = self.emulator
        if emulator.loop is None:
            emulator.attach(asyncio.get_running_loop())
        method: str = scope["method"]
        path: str = scope["path"]
        rid = request_id()
        body = await _read_body(receive)
        if path.startswith("/_emulator"):
            status, answer = await controls.handle(emulator, method, path, body)
            await _send(send, status, orjson.dumps(answer), rid)
            return
        if path == "/" and method in ("GET", "HEAD"):
            await _send(send, 200, _ROOT, rid)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        echo = _echo(headers, method)
        try:
            await self._api(scope, send, method, path, body, headers, rid, echo)
        except errors.StripeError as error:
            extra = error.headers
            if method == "POST" and "idempotency-key" in headers and error.status != 409:
                extra = {"Original-Request": rid, **extra}
            await _send(send, error.status, _error_body(error, rid), rid, extra, echo)
        except DroppedResponse:
            raise
        except Exception:
            logger.exception("emulator error on %s %s", method, path)
            failure = errors.api_error(500)
            failure.message = "An unexpected error occurred in the emulator."
            await _send(send, 500, _error_body(failure, rid), rid, None, echo)

    async def _api(
        self,
        scope: Scope,
        send: Send,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        rid: str,
        echo: list[tuple[bytes, bytes]],
    ) -> None:
        emulator = self.emulator
        _api_key(headers.get("authorization"))
        account_id = headers.get("stripe-account", "")
        if account_id and not account_id.startswith("acct_"):
            raise errors.StripeError(
                403,
                "invalid_request_error",
                f"The provided key does not have access to account '{account_id}' "
                "(or that account does not exist). Application access may have been revoked.",
            )
        matched = self.router.match(method, path)
        if matched is None:
            raise errors.unrecognized_url(method, path)
        handler, args = matched
        query = scope.get("query_string", b"")
        params = forms.decode(query) if query else {}
        if body and method == "POST":
            params.update(forms.decode(body))
        key = headers.get("idempotency-key") if method == "POST" else None
        version = headers.get("stripe-version") or DEFAULT_API_VERSION
        if key and await self._replayed(send, account_id, key, (method, path, params), rid, echo):
            return
        faults = []
        if emulator.faults.rules:
            with emulator.lock:  # tests add and clear faults from their own threads
                faults = emulator.faults.take(method, path)
        for fault in faults:
            if fault.kind == "error":  # the request never ran: nothing saved under its key
                raise errors.api_error(fault.status)
        saved = (
            emulator.idempotency.begin(account_id, key, (method, path, params), rid)
            if key
            else None
        )
        try:
            for fault in faults:
                if fault.kind == "latency":
                    await asyncio.sleep(fault.delay_ms / 1000)
            status, answer = self._run(handler, account_id, params, args, rid, key, version)
        except errors.StripeError as error:
            if saved is not None:
                if error.validation:
                    emulator.idempotency.forget(account_id, key or "")
                else:
                    saved.status, saved.body = error.status, _error_body(error, rid)
                    saved.in_flight = False
            raise
        except BaseException:
            if saved is not None:
                emulator.idempotency.forget(account_id, key or "")
            raise
        if saved is not None:
            saved.status, saved.body, saved.in_flight = status, answer, False
        if any(fault.kind == "drop_response" for fault in faults):
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": _headers(status, rid, None, len(answer), echo),
                }
            )
            raise DroppedResponse(f"{method} {path}: response dropped by an injected fault")
        first = {"Original-Request": rid, "Stripe-Should-Retry": "false"} if key else None
        await _send(send, status, answer, rid, first, echo)

    async def _replayed(
        self,
        send: Send,
        account_id: str,
        key: str,
        fingerprint: tuple[str, str, Any],
        rid: str,
        echo: list[tuple[bytes, bytes]],
    ) -> bool:
        """Answer from the key's saved answer (or refuse the key); False when the key is new."""
        if len(key) > 255:
            raise errors.invalid(
                "Idempotency-Key must be at most 255 characters.", "Idempotency-Key"
            )
        saved = self.emulator.idempotency.get(account_id, key)
        if saved is None:
            return False
        if saved.in_flight:
            raise errors.StripeError(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key (that "
                "probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                code="idempotency_key_in_use",
            )
        if saved.fingerprint != fingerprint:
            raise errors.StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were "
                f"first used with. Try using a key other than '{key}' if you meant to execute a "
                "different request.",
            )
        replay = {"Idempotent-Replayed": "true", "Original-Request": saved.request_id}
        await _send(send, saved.status, saved.body, rid, replay, echo)
        return True

    def _run(
        self,
        handler: Any,
        account_id: str,
        params: dict[str, Any],
        args: tuple[str, ...],
        rid: str,
        key: str | None,
        version: str,
    ) -> tuple[int, bytes]:
        emulator = self.emulator
        with emulator.lock:
            account = emulator.store.account(account_id)
            ctx = Ctx(emulator, account, params, args, rid, key, version)
            self._until_freeze -= 1
            if self._until_freeze <= 0 and emulator.freeze_gc:
                self._until_freeze = FREEZE_EVERY
                gc.freeze()
            try:
                result = handler(ctx)
                paths = expand_paths(params)
                if paths:
                    result = expand(account, result, paths)
                return 200, orjson.dumps(render(result, version, paths))
            finally:
                emulator.persist()


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The emulator's ASGI app; pass an ``Emulator`` to keep a handle on its state and controls."""
    state = emulator or Emulator()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.attach(asyncio.get_running_loop())
        yield
        await state.webhooks.close()

    app = EmulatorApp(Dispatcher(state), lifespan=lifespan)
    app.state.emulator = state
    return app


class EmulatorApp(Starlette):
    """A Starlette app whose HTTP requests all go straight to the dispatcher.

    Starlette still runs the lifespan; HTTP skips its router and middleware stack, which would
    only add work to every request of the hot path (the dispatcher answers every path itself,
    errors included).
    """

    def __init__(self, dispatcher: Dispatcher, **options: Any) -> None:
        super().__init__(**options)
        self.dispatcher = dispatcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.dispatcher(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
