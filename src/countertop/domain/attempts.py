"""The payment-attempt state machine: a pure function over frozen dataclasses.

An attempt is one PaymentIntent taken to a reader, possibly several times (a decline is retried on
the same PaymentIntent). Two kinds of event drive it:

- commands (`AttachPaymentIntent`, `HandToReader`, `CheckCancel`, `CheckCapture`) come from the
  operator or the API; asked in the wrong state they raise `IllegalTransition`;
- `GivingUp` is the backend's own decision to stop waiting for a card (a deadline passed), taken
  before it cancels at Stripe: it keeps the reason, so the reason survives whichever report of
  the cancellation arrives first; like an observation it never raises;
- observations (`Authorized`, `Captured`, `Declined`, `Failed`, `Canceled`, `CaptureFailed`,
  `Refunded`) report what Stripe says happened. Stripe is the truth and its events come late,
  twice or out of order, so an observation never raises: one that is older than the state it
  meets (a decline after the authorization of the retry, say) changes nothing.

`transition(state, event, now)` returns the new state and the effects the I/O layer must carry out
in the same database transaction (hold or release the reader, schedule or drop a capture job).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from countertop.domain.errors import IllegalTransition


class AttemptStatus(StrEnum):
    CREATED = "created"
    ON_READER = "on_reader"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    DECLINED = "declined"
    CANCELED = "canceled"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


S = AttemptStatus
# Not yet authorized; the PaymentIntent can still be handed to a reader or canceled.
PENDING = frozenset({S.CREATED, S.ON_READER, S.DECLINED, S.FAILED})
# Money has moved: the capture happened.
SETTLED = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED})
# An order has at most one attempt in these (a unique constraint in the store enforces it).
ACTIVE = PENDING | {S.AUTHORIZED}
RETRYABLE = frozenset({S.DECLINED, S.FAILED})


@dataclass(frozen=True)
class PaymentError:
    """What went wrong, in Stripe's words (`code`, `decline_code`, `message`)."""

    code: str
    message: str
    decline_code: str | None = None


@dataclass(frozen=True)
class Card:
    brand: str | None
    last4: str | None


@dataclass(frozen=True)
class Attempt:
    id: str
    order_id: str
    amount: int
    currency: str
    auto_capture: bool = True
    status: AttemptStatus = S.CREATED
    reader: str | None = None
    payment_intent: str | None = None
    tip: int = 0
    amount_captured: int = 0
    amount_refunded: int = 0
    process_count: int = 0
    capture_failures: int = 0
    last_error: PaymentError | None = None
    capture_error: PaymentError | None = None
    card: Card | None = None
    sent_at: datetime | None = None


# ---- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachPaymentIntent:
    payment_intent: str


@dataclass(frozen=True)
class HandToReader:
    reader: str


@dataclass(frozen=True)
class CheckCancel:
    """The operator asks to cancel; allowed before the capture only."""


@dataclass(frozen=True)
class CheckCapture:
    """Someone asks to capture; allowed once authorized only."""


@dataclass(frozen=True)
class GivingUp:
    """The backend stops waiting for a card (created or on the reader) and says why."""

    error: PaymentError


@dataclass(frozen=True)
class Authorized:
    amount: int
    tip: int = 0
    card: Card | None = None


@dataclass(frozen=True)
class Captured:
    amount_captured: int
    tip: int = 0
    card: Card | None = None


@dataclass(frozen=True)
class Declined:
    error: PaymentError


@dataclass(frozen=True)
class Failed:
    error: PaymentError


@dataclass(frozen=True)
class Canceled:
    pass


@dataclass(frozen=True)
class CaptureFailed:
    error: PaymentError


@dataclass(frozen=True)
class Refunded:
    amount_refunded: int


Command = AttachPaymentIntent | HandToReader | CheckCancel | CheckCapture | GivingUp
Observation = Authorized | Captured | Declined | Failed | Canceled | CaptureFailed | Refunded
Event = Command | Observation


# ---- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldReader:
    reader: str


@dataclass(frozen=True)
class ReleaseReader:
    reader: str


@dataclass(frozen=True)
class ScheduleCapture:
    at: datetime


@dataclass(frozen=True)
class DropCapture:
    pass


Effect = HoldReader | ReleaseReader | ScheduleCapture | DropCapture

CAPTURE_BACKOFF_START = timedelta(seconds=1)
CAPTURE_BACKOFF_MAX = timedelta(minutes=10)


def capture_backoff(failures: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at ten minutes: authorizations expire in days, not seconds."""
    delay = CAPTURE_BACKOFF_START * (2 ** min(max(failures - 1, 0), 20))
    return min(delay, CAPTURE_BACKOFF_MAX)


def _leave_reader(state: Attempt) -> tuple[Effect, ...]:
    if state.status is S.ON_READER and state.reader:
        return (ReleaseReader(state.reader),)
    return ()


def _merge_card(state: Attempt, card: Card | None) -> Card | None:
    return card if card is not None else state.card


def _late_card(state: Attempt, card: Card | None) -> tuple[Attempt, tuple[Effect, ...]]:
    """An old or repeated report changes nothing, but may name the card of a payment that went
    through before any report that named it arrived (webhooks come in any order)."""
    if card is not None and state.card is None and state.status in SETTLED | {S.AUTHORIZED}:
        return replace(state, card=card), ()
    return state, ()


def _authorized(
    state: Attempt, event: Authorized, now: datetime
) -> tuple[Attempt, tuple[Effect, ...]]:
    if state.status not in PENDING:
        # Already authorized or beyond, or canceled: an old or repeated report.
        return _late_card(state, event.card)
    effects = _leave_reader(state)
    if state.auto_capture:
        effects += (ScheduleCapture(now),)
    new = replace(
        state,
        status=S.AUTHORIZED,
        tip=event.tip,
        card=_merge_card(state, event.card),
        last_error=None,
    )
    return new, effects


def _captured(state: Attempt, event: Captured) -> tuple[Attempt, tuple[Effect, ...]]:
    if state.status in PENDING:
        effects = _leave_reader(state)
    elif state.status is S.AUTHORIZED:
        effects = (DropCapture(),)
    else:
        return _late_card(state, event.card)
    new = replace(
        state,
        status=S.CAPTURED,
        tip=event.tip or state.tip,
        amount_captured=event.amount_captured,
        card=_merge_card(state, event.card),
        last_error=None,
        capture_error=None,
    )
    return new, effects


def _not_paid(
    state: Attempt, status: AttemptStatus, error: PaymentError
) -> tuple[Attempt, tuple[Effect, ...]]:
    if state.status not in PENDING:
        return state, ()
    return replace(state, status=status, last_error=error), _leave_reader(state)


def _canceled(state: Attempt) -> tuple[Attempt, tuple[Effect, ...]]:
    if state.status in PENDING:
        return replace(state, status=S.CANCELED), _leave_reader(state)
    if state.status is S.AUTHORIZED:
        return replace(state, status=S.CANCELED), (DropCapture(),)
    return state, ()


def _refunded(state: Attempt, event: Refunded) -> tuple[Attempt, tuple[Effect, ...]]:
    if state.status not in SETTLED or event.amount_refunded <= state.amount_refunded:
        return state, ()
    refunded = min(event.amount_refunded, state.amount_captured)
    status = S.REFUNDED if refunded >= state.amount_captured else S.PARTIALLY_REFUNDED
    return replace(state, status=status, amount_refunded=refunded), ()


def _capture_failed(
    state: Attempt, event: CaptureFailed, now: datetime
) -> tuple[Attempt, tuple[Effect, ...]]:
    if state.status is not S.AUTHORIZED:
        return state, ()
    failures = state.capture_failures + 1
    new = replace(state, capture_failures=failures, capture_error=event.error)
    return new, (ScheduleCapture(now + capture_backoff(failures)),)


def _command(state: Attempt, event: Command, now: datetime) -> tuple[Attempt, tuple[Effect, ...]]:
    name = type(event).__name__
    match event:
        case AttachPaymentIntent(payment_intent=pi):
            if state.status is not S.CREATED or state.payment_intent not in (None, pi):
                raise IllegalTransition(state.status, name)
            return replace(state, payment_intent=pi), ()
        case HandToReader(reader=reader):
            if state.payment_intent is None or not (
                state.status is S.CREATED or state.status in RETRYABLE
            ):
                raise IllegalTransition(state.status, name)
            new = replace(
                state,
                status=S.ON_READER,
                reader=reader,
                process_count=state.process_count + 1,
                last_error=None,
                sent_at=now,
            )
            return new, (HoldReader(reader),)
        case CheckCancel():
            if state.status not in ACTIVE:
                raise IllegalTransition(state.status, name)
            return state, ()
        case CheckCapture():
            if state.status is not S.AUTHORIZED:
                raise IllegalTransition(state.status, name)
            return state, ()
        case GivingUp(error=error):
            if state.status in (S.CREATED, S.ON_READER):
                return replace(state, last_error=error), ()
            return state, ()  # Stripe's report came first: nothing is waiting any more


def transition(state: Attempt, event: Event, now: datetime) -> tuple[Attempt, tuple[Effect, ...]]:
    """Apply one event; returns the new state and the effects to carry out with it."""
    match event:
        case Authorized():
            return _authorized(state, event, now)
        case Captured():
            return _captured(state, event)
        case Declined(error=error):
            return _not_paid(state, S.DECLINED, error)
        case Failed(error=error):
            return _not_paid(state, S.FAILED, error)
        case Canceled():
            return _canceled(state)
        case CaptureFailed():
            return _capture_failed(state, event, now)
        case Refunded():
            return _refunded(state, event)
        case _:
            return _command(state, event, now)


def event_name(event: Event) -> str:
    """The name a transition is recorded under, e.g. `authorized`, `hand_to_reader`."""
    name = type(event).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
