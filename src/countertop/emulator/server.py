"""Serving the emulator: ``run`` (the ``countertop emulator`` command) and ``EmulatorServer``
(a background thread with its own event loop, for embedding and for tests)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from countertop.emulator.app import DroppedResponse, create_app
from countertop.emulator.emulator import Emulator

SECRET_KEY = "sk_test_countertop_emulator"


class _HideDroppedResponses(logging.Filter):
    """An injected dropped response is not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DroppedResponse)


def _quiet_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDroppedResponses) for f in logger.filters):
        logger.addFilter(_HideDroppedResponses())


def _loop_setting() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(
    host: str = "127.0.0.1",
    port: int = 12111,
    state_file: str | Path | None = None,
    webhook_urls: Sequence[str] = (),
    webhook_secret: str | None = None,
    webhook_events: Sequence[str] = ("*",),
) -> None:
    """Serve the emulator until interrupted."""
    emulator = Emulator(
        state_file,
        list(webhook_urls),
        webhook_secret,
        freeze_gc=True,
        webhook_events=list(webhook_events),
    )
    _quiet_drops()
    if webhook_urls:
        print(f"Signing webhooks to {', '.join(webhook_urls)} with {emulator.webhook_secret}")
    print(f"Stripe Terminal emulator on http://{host}:{port} (any sk_test_ key works)")
    uvicorn.run(
        create_app(emulator),
        host=host,
        port=port,
        loop=_loop_setting(),
        http="httptools",
        log_level="warning",
        access_log=False,
    )


class EmulatorServer:
    """The emulator on a loopback port, served from a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
        webhook_urls: Sequence[str] = (),
        webhook_secret: str | None = None,
        webhook_events: Sequence[str] = ("*",),
    ) -> None:
        self.host = host
        self.emulator = Emulator(
            state_file, list(webhook_urls), webhook_secret, webhook_events=list(webhook_events)
        )
        self.secret_key = SECRET_KEY
        # IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections (no 40 ms delayed ACKs).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(
            create_app(self.emulator),
            log_level="warning",
            access_log=False,
            http="httptools",
            loop="asyncio",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        finally:
            loop.close()

    def start(self) -> EmulatorServer:
        _quiet_drops()
        self._thread = threading.Thread(target=self._serve, name="stripe-emulator", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator failed to start")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()
        if self.emulator.state is not None:
            with self.emulator.lock:
                self.emulator.persist()
                self.emulator.state.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
