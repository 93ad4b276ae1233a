"""The emulator's state and its Python-level simulation controls.

All state changes run with ``lock`` held, so the controls may be called from any thread while the
HTTP side serves requests on its event loop. Work that happens later (a reader finishing an action
after a delay, an automatic card presentation, webhook retries) is scheduled on that loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from countertop.emulator.context import Ctx
from countertop.emulator.device import customer_cancel
from countertop.emulator.faults import ApiFault, ApiFaults, AutoPresent, ReaderSwitches
from countertop.emulator.idempotency import IdempotencyKeys
from countertop.emulator.ids import secret_chars
from countertop.emulator.payments import expire
from countertop.emulator.statefile import StateFile
from countertop.emulator.store import Obj, Store
from countertop.emulator.webhooks import (
    FAULT_KINDS,
    WebhookDispatcher,
    WebhookFault,
    WebhookSettings,
)


class Emulator:
    def __init__(
        self,
        state_file: str | Path | None = None,
        webhook_urls: list[str] | tuple[str, ...] = (),
        webhook_secret: str | None = None,
        freeze_gc: bool = False,
        webhook_events: list[str] | tuple[str, ...] = ("*",),
    ) -> None:
        self.lock = threading.RLock()
        # Freeze stored objects out of the cyclic GC's sight (see app.FREEZE_EVERY). Only for a
        # process that is the emulator alone: freezing is process-wide, and in a shared process
        # it would also freeze the host's transient objects.
        self.freeze_gc = freeze_gc
        self.state = StateFile(state_file) if state_file else None
        self.store = Store(tracking=self.state is not None)
        if self.state is not None:
            self.state.load(self.store)
        self.webhook_secret = webhook_secret or "whsec_" + secret_chars(32)
        self.webhooks = WebhookDispatcher(
            self,
            WebhookSettings(
                urls=list(webhook_urls), secret=self.webhook_secret, events=list(webhook_events)
            ),
        )
        self.faults = ApiFaults()
        self.idempotency = IdempotencyKeys()
        self.readers: dict[str, ReaderSwitches] = {}
        self.action_delay_ms = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._early: list[tuple[float, Callable[..., Any], tuple[Any, ...]]] = []

    # -- scheduling ----------------------------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the event loop that serves requests; run what was scheduled before it."""
        self.loop = loop
        early, self._early = self._early, []
        for delay, callback, args in early:
            loop.call_soon_threadsafe(self._later_on_loop, delay, callback, args)

    def _later_on_loop(
        self, delay: float, callback: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        assert self.loop is not None
        if delay <= 0:
            callback(*args)
        else:
            self.loop.call_later(delay, callback, *args)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        self.call_later(0, callback, *args)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback`` on the event loop after ``delay`` seconds (from any thread)."""
        if self.loop is None:
            self._early.append((delay, callback, args))
        else:
            self.loop.call_soon_threadsafe(self._later_on_loop, delay, callback, args)

    def locked(self, callback: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a scheduled state change so it runs under the lock and is saved."""

        def run(*args: Any) -> None:
            with self.lock:
                callback(*args)
                self.persist()

        return run

    def persist(self) -> None:
        if self.state is not None:
            self.state.save(self.store)

    # -- readers -------------------------------------------------------------------------------
    def switches(self, reader_id: str) -> ReaderSwitches:
        found = self.readers.get(reader_id)
        if found is None:
            found = self.readers[reader_id] = ReaderSwitches()
        return found

    def _reader_switches(self, reader_id: str) -> ReaderSwitches:
        if self.store.find("readers", reader_id) is None:
            raise KeyError(f"no such reader: {reader_id}")
        return self.switches(reader_id)

    def set_reader_offline(self, reader_id: str, offline: bool = True) -> None:
        """Take a reader offline (status ``offline``, commands fail) or bring it back."""
        with self.lock:
            self._reader_switches(reader_id).offline = offline
            found = self.store.find("readers", reader_id)
            assert found is not None
            account, reader = found
            reader["status"] = "offline" if offline else "online"
            if not offline:
                reader["last_seen_at"] = int(time.time() * 1000)
            account.changed("readers", reader)
            self.persist()

    def set_reader_busy(self, reader_id: str, busy: bool = True) -> None:
        """Make every command to the reader fail with ``terminal_reader_busy``."""
        with self.lock:
            self._reader_switches(reader_id).busy = busy

    def set_reader_timeout(self, reader_id: str, count: int = 1, delivered: bool = False) -> None:
        """Fail the next ``count`` commands with ``terminal_reader_timeout``.

        With ``delivered`` the reader did receive each command (the action starts) although the
        API answers with the timeout: the false negative Stripe warns about.
        """
        with self.lock:
            switches = self._reader_switches(reader_id)
            switches.timeouts = count
            switches.timeout_delivered = delivered

    def set_action_delay(self, delay_ms: int, reader_id: str | None = None) -> None:
        """Time a reader takes to finish an action once a card is presented (0: instantly)."""
        with self.lock:
            if reader_id is None:
                self.action_delay_ms = delay_ms
            else:
                self._reader_switches(reader_id).action_delay_ms = delay_ms

    def customer_cancel(self, reader_id: str) -> None:
        """The customer presses cancel on the reader: the action fails with customer_canceled.

        Raises ValueError unless an action waits for the customer and was started with
        ``enable_customer_cancellation``, as on a real reader.
        """
        self._change("readers", reader_id, customer_cancel)

    def expire_authorization(self, payment_intent_id: str) -> None:
        """Let an uncaptured authorization expire now, as if its capture_before had passed.

        The charge is refunded (reason ``expired_uncaptured_charge``) and the PaymentIntent
        canceled (``automatic``), with ``charge.expired``, ``refund.created``,
        ``charge.refunded`` and ``payment_intent.canceled``. Raises ValueError unless the
        PaymentIntent is ``requires_capture``.
        """
        self._change("payment_intents", payment_intent_id, expire)

    def _change(self, collection: str, object_id: str, change: Callable[[Ctx, Obj], Any]) -> None:
        """Apply a simulated change to an object of any account, as a request would."""
        with self.lock:
            found = self.store.find(collection, object_id)
            if found is None:
                raise KeyError(f"no such object: {object_id}")
            account, obj = found
            change(Ctx(self, account), obj)
            self.persist()

    def set_auto_present(
        self,
        reader_id: str,
        after_ms: int | None,
        type: str | None = None,
        number: str | None = None,
        amount_tip: int | None = None,
    ) -> None:
        """Have the reader present a card by itself ``after_ms`` after each action starts."""
        with self.lock:
            switches = self._reader_switches(reader_id)
            switches.auto_present = (
                None if after_ms is None else AutoPresent(after_ms, type, number, amount_tip)
            )

    # -- API faults ----------------------------------------------------------------------------
    def add_api_fault(
        self,
        kind: str,
        method: str | None = None,
        path: str | None = None,
        count: int | None = 1,
        probability: float = 1.0,
        status: int = 500,
        delay_ms: int = 0,
    ) -> ApiFault:
        """Inject ``error`` (a 5xx), ``drop_response`` (done, then no answer) or ``latency``."""
        if kind not in ("error", "drop_response", "latency"):
            raise ValueError(f"unknown API fault kind: {kind}")
        with self.lock:
            return self.faults.add(
                ApiFault(kind, method, path, count, probability, status, delay_ms)
            )

    def clear_api_faults(self) -> None:
        with self.lock:
            self.faults.rules.clear()

    # -- webhooks ------------------------------------------------------------------------------
    def add_webhook_fault(
        self,
        kind: str,
        count: int | None = 1,
        probability: float = 1.0,
        delay_ms: int = 0,
        event_types: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Drop, duplicate, delay or reorder the next ``count`` webhook deliveries."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown webhook fault kind: {kind}")
        with self.lock:
            self.webhooks.faults.append(
                WebhookFault(kind, count, probability, delay_ms, tuple(event_types))
            )

    def clear_webhook_faults(self) -> None:
        with self.lock:
            self.webhooks.faults.clear()
            self.webhooks.release_held()

    def configure_webhooks(
        self,
        retry_base_ms: int | None = None,
        max_attempts: int | None = None,
        urls: list[str] | None = None,
    ) -> None:
        with self.lock:
            settings = self.webhooks.settings
            if retry_base_ms is not None:
                settings.retry_base_ms = retry_base_ms
            if max_attempts is not None:
                settings.max_attempts = max_attempts
            if urls is not None:
                settings.urls = list(urls)

    def pending_webhooks(self) -> int:
        with self.lock:
            return self.webhooks.pending

    def _flush_started(self, timeout: float) -> float:
        """Release held deliveries; the deadline to wait for the rest."""
        with self.lock:
            self.webhooks.release_held()
        return time.monotonic() + timeout

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Block (in a thread other than the loop's) until every delivery is done."""
        deadline = self._flush_started(timeout)
        while self.pending_webhooks() > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    async def flush_webhooks_async(self, timeout: float = 10.0) -> bool:
        """``flush_webhooks`` for coroutines running on any event loop."""
        deadline = self._flush_started(timeout)
        while self.pending_webhooks() > 0:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def deliveries(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.webhooks.log)

    # -- everything ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every object, key, fault and reader switch (webhook URLs stay)."""
        with self.lock:
            self.store = Store(tracking=self.state is not None)
            self.faults = ApiFaults()
            self.idempotency.clear()
            self.readers.clear()
            self.action_delay_ms = 0
            self.webhooks.faults.clear()
            self.webhooks.pending -= len(self.webhooks.held)
            self.webhooks.held.clear()
            self.webhooks.log.clear()
            if self.state is not None:
                self.state.wipe()
