"""Group commit of webhook events: the events that arrive together are stored in one transaction.

Stripe sends bursts: several events for every sale, retries, duplicates. Stored one by one, each
costs a transaction of its own (a read of its attempt, an insert, a commit). Here the events that
arrive while a batch is being written wait for it and are written together in the next one: one
read of all their attempts (locked while the batch changes them), one multi-row insert, one
commit. The first event after a quiet spell is written at once, in a batch of one. On PostgreSQL
a batch that changes no attempt (most do not: old news, reader events left for Stripe) is read and
inserted with no transaction around it, which saves the BEGIN and COMMIT round trips; one that
changes an attempt is decided again in a transaction, on the attempts locked. A batch that
reports a payment this process handed to a reader as authorized or paid goes to that transaction
at once: read unlocked first, its attempt would only be read again.

Inside a batch each event is decided as `store_event` decides it: an event about nothing of ours,
or whose state its attempt already has, is stored as applied; one that carries state new to its
attempt is applied in the same transaction; a reader event that needs Stripe is stored to be
applied by the caller. The later events about an attempt that an earlier one changes (a sale's
charge, PaymentIntent and reader reports arrive together) are decided once that change is
applied, against the attempt as it then is, and stored in a second insert of the same
transaction when they are old news. A second delivery of an event within one batch (Stripe does
deliver an event twice at once, now and then) is answered as the first one's duplicate, once the
first is decided. An event a batch cannot decide goes the way of a single event instead
(`store_event`'s own transaction, after the batch is committed): a later event that brings its
changed attempt something new, and every event of a batch that failed (a concurrent change, a
lost connection), which is rolled back whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

from countertop.backend.services.context import Services
from countertop.backend.services.events import (
    CARRIES_STATE,
    DONE,
    INSERT_ONCE,
    NEW,
    PENDING,
    SETTLED,
    Json,
    Target,
    decide,
    event_values,
    is_old_news,
    judge,
    target_of,
)
from countertop.backend.services.recent import Recent
from countertop.backend.services.records import (
    AUTHORIZED_OR_SETTLED,
    Applied,
    announce,
    apply_once,
)
from countertop.backend.store.direct import Connection
from countertop.backend.store.lists import in_list
from countertop.backend.store.payments import AttemptRow, WebhookEventRow
from countertop.domain.attempts import Attempt

log = logging.getLogger("countertop.webhooks")

MAX_BATCH = 64
# How long Stripe's report about a PaymentIntent that this process is capturing waits for the
# capture to be recorded; past it, the report goes the usual way.
SETTLING_WAIT = 2.0
# Attempts remembered at most (the sales of the last few minutes of a busy store).
MAX_KNOWN = 10_000
Outcome = tuple[str, Target | None]
# What a second delivery in the batch is told, by what its first delivery was told: one stored
# now is a duplicate, applied (DONE) or being applied by its first caller (PENDING: applied
# again by the second, harmlessly, as `store_event` would have it).
_AGAIN = {SETTLED: DONE, DONE: DONE, NEW: PENDING, PENDING: PENDING}

_TARGETS = (
    select(*AttemptRow.__table__.columns)
    .where(in_list(AttemptRow.payment_intent_id, "payment_intents"))
    .order_by(AttemptRow.id)
)
# Locked in one order (by id) so that two batches, or a batch and a single event, never wait for
# each other in a circle.
_TARGETS_FOR_UPDATE = _TARGETS.with_for_update()
_PROCESSED = select(WebhookEventRow.id, WebhookEventRow.processed_at).where(
    in_list(WebhookEventRow.id, "ids")
)
_RETURNING_ID = {name: insert.returning(WebhookEventRow.id) for name, insert in INSERT_ONCE.items()}
_EVENT_COLUMNS = ("id", "type", "object_id", "created", "payload", "received_at", "processed_at")
# PostgreSQL: the batch's events as one array a column (`column_<name>`), so that one statement
# serves every size of batch (a multi-row VALUES is a statement per number of rows, prepared
# anew on each connection; see store/lists.py).
_UNNESTED = (
    func.unnest(
        *(
            bindparam(f"column_{name}", type_=ARRAY(WebhookEventRow.__table__.c[name].type))
            for name in _EVENT_COLUMNS
        )
    )
    .table_valued(*_EVENT_COLUMNS)
    .render_derived(name="v")
)
_INSERT_UNNESTED = (
    postgresql.insert(WebhookEventRow)
    .from_select(list(_EVENT_COLUMNS), select(*(_UNNESTED.c[name] for name in _EVENT_COLUMNS)))
    .on_conflict_do_nothing(index_elements=[WebhookEventRow.id])
    .returning(WebhookEventRow.id)
)


async def _insert_events(conn: Connection, events: list[dict[str, Any]]) -> set[str]:
    """Store the events not stored yet, in one statement; the ids of those it stored."""
    if conn.dialect.name == "postgresql":
        columns = {f"column_{name}": [e[name] for e in events] for name in _EVENT_COLUMNS}
        return {r[0] for r in await conn.execute(_INSERT_UNNESTED, columns)}
    return {r[0] for r in await conn.execute(_RETURNING_ID[conn.dialect.name], events)}


@dataclass
class _Waiting:
    event: Json
    payload: bytes
    payment_intent: str | None
    outcome: asyncio.Future[Outcome | None]


@dataclass
class _Plan:
    """The batch's events decided against their attempts as read (`first`); the later events
    about each attempt that one of them changes, by PaymentIntent (`later`); and each second
    delivery of an event, with the index of its first (`again`)."""

    first: list[_Planned]
    later: dict[str, list[int]]
    again: list[tuple[int, int]]

    def answer_again(self, outcomes: list[Outcome | None]) -> list[Outcome | None]:
        """Tell each second delivery what its first one's outcome makes it."""
        for index, first in self.again:
            told = outcomes[first]
            outcomes[index] = None if told is None else (_AGAIN[told[0]], told[1])
        return outcomes


@dataclass
class _Settling:
    """A PaymentIntent being captured here: how many captures of it, and their end."""

    captures: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Planned:
    index: int
    values: dict[str, Any]
    target: Target | None
    observed: list[Any]
    settled: bool
    payment_intent: str | None


@dataclass
class EventBatches:
    """One writer per process; events queue while it writes and go together in its next batch.

    It also remembers the attempts it last saw authorized or settled (read, or written by this
    process), by PaymentIntent. Their statuses only move on, and what is old news to a state is
    old news to every later one: a batch whose events are all old news to the attempts as
    remembered is stored without reading them again (a sale's later reports, Stripe's retries).

    Stripe reports a capture (`charge.captured`, `payment_intent.succeeded`) as it makes it, so
    the reports can arrive while the process that asked for the capture is still recording it.
    Decided then, they would find news in the attempt as it was, and take a transaction that
    waits on the capture's lock only to find it old news. A report about a PaymentIntent being
    captured here (`settling`) waits instead, at most `SETTLING_WAIT`, before it joins a batch:
    the capture recorded and remembered, the report is old news and is stored without a read.
    """

    svc: Services
    _queue: list[_Waiting] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _known: Recent[str, Any] = field(default_factory=lambda: Recent(MAX_KNOWN))
    _handed: Recent[str, bool] = field(default_factory=lambda: Recent(MAX_KNOWN))
    _settling: dict[str, _Settling] = field(default_factory=dict)

    def _read(self, rows: dict[str, Any]) -> dict[str, Any]:
        for row in rows.values():
            self.remember(row)
        return rows

    def remember(self, row: Any) -> None:
        """An attempt's row as committed, if it is authorized or settled."""
        payment_intent = row.payment_intent_id
        if payment_intent and row.status in AUTHORIZED_OR_SETTLED:
            self._known.put(payment_intent, row)
            self._handed.forget(payment_intent)

    def handed(self, payment_intent: str) -> None:
        """This process has just handed `payment_intent` to a reader (and committed that)."""
        self._handed.put(payment_intent, True)

    def _brings_news(self, batch: list[_Waiting]) -> bool:
        """Whether the batch reports a payment this process handed to a reader as authorized or
        paid: news to its attempt, so the batch goes straight to the attempts locked."""
        for waiting in batch:
            payment_intent = waiting.payment_intent
            if not payment_intent or not self._handed.get(payment_intent):
                continue
            if str(waiting.event.get("type")).startswith("payment_intent."):
                obj = (waiting.event.get("data") or {}).get("object") or {}
                if obj.get("status") in ("requires_capture", "succeeded"):
                    return True
        return False

    @contextlib.contextmanager
    def settling(self, payment_intent: str) -> Iterator[None]:
        """While this process captures `payment_intent` and records the outcome."""
        settling = self._settling.setdefault(payment_intent, _Settling())
        settling.captures += 1
        try:
            yield
        finally:
            settling.captures -= 1
            if settling.captures == 0:
                del self._settling[payment_intent]
                settling.ended.set()

    async def store(
        self, event: Json, payload: bytes, payment_intent: str | None
    ) -> Outcome | None:
        """Store (and apply) an event in the next batch; None when it must go on its own."""
        settling = self._settling.get(payment_intent) if payment_intent else None
        if settling is not None and str(event.get("type")).startswith(CARRIES_STATE):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLING_WAIT):
                    await settling.ended.wait()
        loop = asyncio.get_running_loop()
        waiting = _Waiting(event, payload, payment_intent, loop.create_future())
        self._queue.append(waiting)
        if self._writer is None:
            self._writer = loop.create_task(self._write_all())
        return await asyncio.shield(waiting.outcome)

    async def _write_all(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    outcomes = await self._write(batch)
                except Exception as error:  # each event then goes on its own, and says why
                    log.info("a batch of %d events went one by one: %r", len(batch), error)
                    outcomes = [None] * len(batch)
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    if not waiting.outcome.done():
                        waiting.outcome.set_result(outcome)
                batch = []
        finally:
            # Stopped (the server is shutting down): nobody is left waiting for this writer.
            for waiting in (*batch, *self._queue):
                if not waiting.outcome.done():
                    waiting.outcome.set_result(None)
            self._queue = []
            self._writer = None

    async def _write(self, batch: list[_Waiting]) -> list[Outcome | None]:
        svc = self.svc
        now = svc.clock()
        outcomes: list[Outcome | None] = [None] * len(batch)
        payment_intents = sorted({w.payment_intent for w in batch if w.payment_intent})
        locks = any(
            w.payment_intent and str(w.event.get("type")).startswith(CARRIES_STATE) for w in batch
        )
        known = [self._known.get(pi) for pi in payment_intents]
        if all(row is not None for row in known):
            rows = dict(zip(payment_intents, known, strict=True))
            plan = _plan(batch, rows, now)
            if all(planned.settled for planned in plan.first):  # old news, nothing to apply
                async with svc.db.direct.autocommit() as conn:  # one statement: no transaction
                    await _store(conn, plan.first, now, outcomes, [])
                return plan.answer_again(outcomes)
        if not svc.db.is_sqlite and not self._brings_news(batch):
            # Most batches change no attempt (old news, reports about nothing of ours, reader
            # events left for Stripe): their events are only stored, and on PostgreSQL with no
            # transaction around the read and the insert (no BEGIN and COMMIT round trips). Old
            # news to the attempt as read is old news to any later state too. A batch that
            # surely brings news (the authorization of a payment handed to a reader here) skips
            # this read: it would only be read again, locked.
            async with svc.db.direct.autocommit() as conn:
                rows = self._read(await _targets(conn, payment_intents, lock=False))
                plan = _plan(batch, rows, now)
                if not any(planned.observed for planned in plan.first):
                    await _store(conn, plan.first, now, outcomes, [])
                    return plan.answer_again(outcomes)
        # Some event brings its attempt something new: decided (again) on the attempts locked,
        # and applied in the transaction that stores the events.
        applied: list[tuple[tuple[Applied, list[Any]], str]] = []
        async with svc.db.direct.begin() as conn:
            rows = self._read(await _targets(conn, payment_intents, lock=locks))
            plan = _plan(batch, rows, now)
            changed = await _store(conn, plan.first, now, outcomes, applied)
            second = _plan_later(batch, plan.later, changed, now)
            await _store(conn, second, now, outcomes, applied)
        for (change, effects), cause in applied:  # committed: telling of it must not undo that
            try:
                announce(svc, change, effects, cause)
            except Exception:
                log.exception("a change applied by %s could not be announced", cause)
        return plan.answer_again(outcomes)


async def _targets(conn: Connection, payment_intents: list[str], *, lock: bool) -> dict[str, Any]:
    """The attempts of these PaymentIntents, by PaymentIntent (locked, in id order, if `lock`)."""
    if not payment_intents:
        return {}
    query = _TARGETS_FOR_UPDATE if lock else _TARGETS
    found = await conn.execute(query, {"payment_intents": payment_intents})
    return {row.payment_intent_id: row for row in found}


def _plan(batch: list[_Waiting], rows: dict[str, Any], now: datetime) -> _Plan:
    """Decide each event against its attempt as read; the later events about an attempt that an
    earlier one changes are decided once it has, and second deliveries once their first is."""
    planned: list[_Planned] = []
    later: dict[str, list[int]] = {}
    again: list[tuple[int, int]] = []
    first_of: dict[str, int] = {}
    targets: dict[str, Target] = {}
    for index, waiting in enumerate(batch):
        event, payment_intent = waiting.event, waiting.payment_intent
        if event["id"] in first_of:
            again.append((index, first_of[event["id"]]))
            continue
        first_of[event["id"]] = index
        if payment_intent and payment_intent in later:
            later[payment_intent].append(index)
            continue
        event_type = str(event.get("type"))
        obj = (event.get("data") or {}).get("object") or {}
        row = rows.get(payment_intent) if payment_intent else None
        if row is None:
            target, settled, observed = decide(None, event_type, obj)
        else:  # the attempt's target made once for all the batch's events about it
            assert payment_intent is not None
            made = targets.get(payment_intent)
            if made is None:
                made = targets[payment_intent] = target_of(row)
            target, settled, observed = judge(made, event_type, obj)
        processed = now if settled or observed else None
        values = event_values(event, waiting.payload, now, processed)
        planned.append(_Planned(index, values, target, observed, settled, payment_intent))
        if observed and payment_intent:
            later[payment_intent] = []
    return _Plan(planned, later, again)


def _plan_later(
    batch: list[_Waiting], later: dict[str, list[int]], changed: dict[str, Attempt], now: datetime
) -> list[_Planned]:
    """The later events about each changed attempt that are old news to it as it now is.

    They are stored as applied in the batch. From the first that is not (it brings something
    new, or needs Stripe), the events about that attempt are left to go on their own, in order.
    The state machine only moves forward, so old news to the state now is old news for good.
    """
    planned: list[_Planned] = []
    for payment_intent, indexes in later.items():
        state = changed.get(payment_intent)
        if state is None:  # its change was not applied here (a delivery stored before)
            continue
        target = Target(state.id, state.amount, state.status.value, state)
        for index in indexes:
            event = batch[index].event
            obj = (event.get("data") or {}).get("object") or {}
            if not is_old_news(str(event.get("type")), obj, target):
                break
            values = event_values(event, batch[index].payload, now, now)
            planned.append(_Planned(index, values, target, [], True, payment_intent))
    return planned


async def _store(
    conn: Connection,
    planned: list[_Planned],
    now: datetime,
    outcomes: list[Outcome | None],
    applied: list[tuple[tuple[Applied, list[Any]], str]],
) -> dict[str, Attempt]:
    """Insert the planned events in one statement and apply those that bring new state; returns
    the attempts changed, by PaymentIntent, as they are now."""
    if not planned:
        return {}
    ordered = sorted((p.values for p in planned), key=lambda v: str(v["id"]))
    inserted = await _insert_events(conn, ordered)
    again = [str(p.values["id"]) for p in planned if p.values["id"] not in inserted]
    processed_before: dict[str, Any] = {}
    if again:
        found = await conn.execute(_PROCESSED, {"ids": again})
        processed_before = {r.id: r.processed_at for r in found}
    changed: dict[str, Attempt] = {}
    for plan in planned:
        event_id = str(plan.values["id"])
        if event_id not in inserted:
            done = processed_before.get(event_id) is not None or event_id not in processed_before
            outcomes[plan.index] = (DONE if done else PENDING), plan.target
            continue
        if plan.observed and plan.target is not None:
            cause = f"webhook:{event_id} {plan.values['type']}"
            result = await apply_once(
                conn, plan.target.attempt_id, plan.observed, cause, None, now,
                loaded=plan.target.row,
            )  # fmt: skip
            if result is not None:
                applied.append((result, cause))
                if plan.payment_intent:
                    changed[plan.payment_intent] = result[0].attempt
        settled = plan.settled or bool(plan.observed)
        outcomes[plan.index] = (SETTLED if settled else NEW), plan.target
    return changed
