"""Taking an order's payment to a reader: start, retry on the same PaymentIntent, cancel.

Idempotency keys come from the attempt (`att_..:create`, `att_..:process:<n>`, ...), so a request
repeated after a lost answer is the same request to Stripe and never a second PaymentIntent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from countertop.backend.errors import ApiError
from countertop.backend.services.attempts import (
    attempt_of_order,
    attempt_view,
    new_attempt,
    not_found,
    stripe_unavailable,
)
from countertop.backend.services.context import Services
from countertop.backend.services.orders import attempt_json, line_items
from countertop.backend.services.records import ReaderBusy, apply, reader_holder, with_state
from countertop.backend.services.sync import attempt_row, sync_attempt
from countertop.backend.store.base import detached
from countertop.backend.store.payments import AttemptRow, OrderRow, ReaderHoldRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import (
    RETRYABLE,
    AttachPaymentIntent,
    AttemptStatus,
    Canceled,
    CheckCancel,
    Failed,
    GivingUp,
    HandToReader,
    PaymentError,
)
from countertop.domain.errors import IllegalTransition
from countertop.domain.in_person_refunds import capture_options, payment_method_types
from countertop.domain.observations import reader_action_for
from countertop.domain.orders import OrderStatus, is_payable

log = logging.getLogger("countertop.payments")
Json = dict[str, Any]


def reader_busy(reader_id: str, order_id: str | None) -> ApiError:
    holder = f" with order {order_id}" if order_id else " with another payment"
    return ApiError(
        409, "reader_busy", "Reader busy", f"Reader {reader_id} is busy{holder}.", order_id=order_id
    )


def reader_offline(reader_id: str) -> ApiError:
    return ApiError(
        409,
        "reader_offline",
        "Reader offline",
        f"Reader {reader_id} is offline. Check its power and network, then try again.",
    )


def location_of(reader: Json) -> str | None:
    location = reader.get("location")
    return location.get("id") if isinstance(location, dict) else location


async def usable_reader(
    svc: Services, reader_id: str, order: OrderRow, who: Any, *, known: bool = False
) -> Json:
    """The reader, if the caller may use it for this order and it is online.

    With `known`, a reader that Stripe last reported online (in an event, or the answer to a
    command or a read) is taken at that word, with no call to Stripe: a reader's location never
    changes, and one that went offline or was deleted since makes Stripe refuse the command
    that follows, which then cancels its PaymentIntent (`_send_failed`). A reader never seen,
    or last seen offline, is read from Stripe.
    """
    reader = svc.live.known_reader(reader_id) if known else None
    if reader is None or reader.get("status") != "online":
        try:
            reader = await svc.gateway.retrieve_reader(reader_id)
        except StripeFailure as failure:
            if failure.http_status == 404:
                raise not_found("reader", reader_id) from None
            raise stripe_unavailable(failure) from None
        svc.live.remember_reader(reader)
    if reader.get("deleted") or not who.can_access(location_of(reader)):
        raise not_found("reader", reader_id)
    if location_of(reader) != order.location_id:
        raise ApiError(
            409,
            "invalid_state",
            "Reader at another location",
            f"Reader {reader_id} is not at the order's location {order.location_id}.",
        )
    if reader.get("status") == "offline":
        raise reader_offline(reader_id)
    return reader


async def _check_not_held(svc: Services, reader_id: str, order_id: str) -> None:
    hold = await reader_holder(svc, reader_id)
    if hold is not None and hold.order_id != order_id:
        raise reader_busy(reader_id, hold.order_id)


# The order with its active attempt, if it has one (the attempt's columns are labelled
# `attempt_*`), and the order holding the reader (`reader_holder`), in one statement.
_HOLDER = (
    select(ReaderHoldRow.order_id)
    .where(ReaderHoldRow.reader_id == bindparam("reader_id"))
    .scalar_subquery()
    .label("reader_holder")
)
_ORDER_AND_ACTIVE = (
    select(
        *OrderRow.__table__.columns,
        *(c.label(f"attempt_{c.key}") for c in AttemptRow.__table__.columns),
        _HOLDER,
    )
    .select_from(OrderRow)
    .outerjoin(AttemptRow, AttemptRow.active_order_id == OrderRow.id)
    .where(OrderRow.id == bindparam("order_id"))
)


@dataclass(frozen=True)
class _PaymentContext:
    order: OrderRow
    attempt: AttemptRow | None
    holder: str | None  # the order holding the reader, if any
    items: list[Any]


async def _payment_context(
    svc: Services, who: Any, order_id: str, reader_id: str
) -> _PaymentContext:
    """In one read: the order (not found if out of the caller's scope), its active attempt, the
    reader's holder and the order's line items."""
    async with svc.db.direct.autocommit() as conn:
        params = {"order_id": order_id, "reader_id": reader_id}
        found = (await conn.execute(_ORDER_AND_ACTIVE, params)).first()
        if found is None or not who.can_access(found.location_id):
            raise not_found("order", order_id)
        items = await line_items(conn, order_id)
    attempt = detached(AttemptRow, found, "attempt_") if found.attempt_id is not None else None
    return _PaymentContext(detached(OrderRow, found), attempt, found.reader_holder, items)


async def start_payment(svc: Services, who: Any, order_id: str, reader_id: str) -> Json:
    """Create (or resume) the order's attempt and hand its PaymentIntent to the reader.

    `order_id` has been checked to look like an id; an order out of `who`'s scope is not found.
    """
    cause = f"api:start_payment on {reader_id}"
    context = await _payment_context(svc, who, order_id, reader_id)
    order, row = context.order, context.attempt
    await usable_reader(svc, reader_id, order, who, known=True)
    if context.holder is not None and context.holder != order.id:
        raise reader_busy(reader_id, context.holder)
    if row is None:
        if not is_payable(OrderStatus(order.status)):
            raise ApiError(
                409,
                "order_not_payable",
                "Order not payable",
                f"Order {order.id} is {order.status}.",
            )
        row = await new_attempt(svc, order, cause)
    if row.status == AttemptStatus.ON_READER:
        raise ApiError(
            409,
            "payment_in_progress",
            "Payment in progress",
            f"Order {order.id} is already on reader {row.reader_id}.",
        )
    if row.status == AttemptStatus.AUTHORIZED:
        raise ApiError(
            409, "order_not_payable", "Order not payable", f"Order {order.id} is authorized."
        )
    attach = None
    if row.payment_intent_id is None:
        attach = await create_payment_intent(svc, row, order)
    return await _send(svc, row, reader_id, order, cause, attach=attach, items=context.items)


async def retry_payment(
    svc: Services, order: OrderRow, attempt_id: str, reader_id: str | None, who: Any
) -> Json:
    """Hand the same PaymentIntent to a reader again after a decline or failure."""
    row = await attempt_of_order(svc, order.id, attempt_id)
    if AttemptStatus(row.status) not in RETRYABLE:
        raise ApiError(
            409,
            "invalid_state",
            "Cannot retry",
            f"Attempt {attempt_id} is {row.status}; only a declined or failed attempt is retried.",
        )
    target = reader_id or row.reader_id
    if target is None:
        raise ApiError(400, "validation_error", "Reader needed", "Name the reader to retry on.")
    await usable_reader(svc, target, order, who, known=True)
    await _check_not_held(svc, target, order.id)
    return await _send(svc, row, target, order, f"api:retry_payment on {target}")


async def create_payment_intent(svc: Services, row: AttemptRow, order: OrderRow) -> str:
    """Create the attempt's PaymentIntent, or get back the one an earlier try made (same key)."""
    capture_method, method_options = capture_options(row.currency, svc.settings.capture_method)
    try:
        intent = await svc.gateway.create_payment_intent(
            amount=row.amount,
            currency=row.currency,
            capture_method=capture_method,
            payment_method_types=payment_method_types(row.currency),
            payment_method_options=method_options,
            metadata={"order_id": order.id, "attempt_id": row.id, "location": order.location_id},
            description=f"Order {order.id}",
            idempotency_key=f"{row.id}:create",
        )
    except StripeFailure as failure:
        if failure.network:
            raise stripe_unavailable(failure) from None
        raise ApiError(
            409, "order_not_payable", "Stripe refused the payment", failure.message
        ) from None
    return str(intent["id"])


async def ensure_payment_intent(
    svc: Services, row: AttemptRow, order: OrderRow, cause: str
) -> None:
    """Create the attempt's PaymentIntent and record it on the attempt."""
    payment_intent = await create_payment_intent(svc, row, order)
    await apply(svc, row.id, [AttachPaymentIntent(payment_intent)], cause)


def _cart_of(order: OrderRow, items: list[Any]) -> Json:
    lines = [
        {"description": i.description, "quantity": i.quantity, "amount": i.unit_amount * i.quantity}
        for i in items
    ]
    return {
        "currency": order.currency,
        "line_items": lines,
        "tax": order.tax,
        "total": order.subtotal + order.tax,
    }


async def _send(
    svc: Services,
    row: AttemptRow,
    reader_id: str,
    order: OrderRow,
    cause: str,
    *,
    attach: str | None = None,
    items: list[Any] | None = None,
) -> Json:
    """Hand the attempt to the reader (recording a PaymentIntent just made with it) and send it.

    The attempt takes the reader in the same commit that records the hand-over, so a second
    till gets `reader_busy`; then the cart is shown and the PaymentIntent processed.
    """
    attempt_id = row.id
    events: list[Any] = [AttachPaymentIntent(attach)] if attach else []
    try:
        applied = await apply(
            svc, attempt_id, [*events, HandToReader(reader_id)], cause, loaded=row
        )
    except ReaderBusy as busy:
        if attach:  # taken meanwhile: the attempt still keeps the PaymentIntent it now has
            await apply(svc, attempt_id, events, cause)
        raise reader_busy(reader_id, busy.order_id) from None
    except IllegalTransition as illegal:
        raise ApiError(409, "payment_in_progress", "Payment in progress", str(illegal)) from None
    assert applied is not None
    state = applied.attempt
    assert state.payment_intent is not None
    svc.event_batches.handed(state.payment_intent)
    if items is None:
        async with svc.db.session() as s:
            items = await line_items(s, order.id)
    try:
        await svc.gateway.set_reader_display(
            reader_id,
            cart=_cart_of(order, items),
            idempotency_key=f"{attempt_id}:display:{state.process_count}",
        )
    except StripeFailure as failure:  # showing the cart is a courtesy; the payment decides
        log.info("cart not shown on %s: %s", reader_id, failure)
    try:
        reader = await svc.gateway.process_payment_intent(
            reader_id,
            payment_intent=state.payment_intent,
            idempotency_key=f"{attempt_id}:process:{state.process_count}",
        )
        svc.live.reader_changed(reader_id, reader)
    except StripeFailure as failure:
        await _send_failed(svc, attempt_id, reader_id, state.payment_intent, failure, cause)
        return await attempt_view(svc, attempt_id)
    return attempt_json(with_state(row, state))


async def _landed(svc: Services, reader_id: str, payment_intent: str) -> bool:
    """Did the reader get the command after all? (`terminal_reader_timeout` can be a false negative.)"""
    try:
        reader = await svc.gateway.retrieve_reader(reader_id)
    except StripeFailure:
        return False
    return reader_action_for(reader, payment_intent) is not None


async def _send_failed(
    svc: Services,
    attempt_id: str,
    reader_id: str,
    payment_intent: str,
    failure: StripeFailure,
    cause: str,
) -> None:
    error = PaymentError(failure.code, failure.message, failure.decline_code)
    if failure.code == "terminal_reader_offline" or failure.http_status == 404:
        # The reason is kept before Stripe is asked to cancel: its `payment_intent.canceled` may
        # be applied before the answer to the cancel is, and it does not say why.
        await apply(svc, attempt_id, [GivingUp(error)], cause)
        await cancel_intent(svc, attempt_id, payment_intent, [Failed(error)], cause)
        if failure.http_status == 404:  # the reader was deleted since Stripe last spoke of it
            svc.live.forget_reader(reader_id)
            raise not_found("reader", reader_id)
        raise reader_offline(reader_id)
    if failure.network or failure.code in ("terminal_reader_timeout", "intent_invalid_state"):
        if await _landed(svc, reader_id, payment_intent):
            return  # the reader has it: the webhook (or the sweep) reports the outcome
        try:
            synced = await sync_attempt(svc, attempt_id, cause, check_reader=False)
        except StripeFailure:
            synced = None
        if synced is not None and synced.attempt.status is not AttemptStatus.ON_READER:
            return  # Stripe already knows the outcome (authorized, captured or canceled)
        if await _resend(svc, attempt_id, reader_id, payment_intent, synced):
            return
    await apply(svc, attempt_id, [Failed(error)], cause)
    if failure.code == "terminal_reader_busy":
        raise reader_busy(reader_id, None)
    if failure.network:
        raise stripe_unavailable(failure)
    raise ApiError(409, "invalid_state", "The reader refused the payment", failure.message)


async def _resend(
    svc: Services, attempt_id: str, reader_id: str, payment_intent: str, synced: Any
) -> bool:
    """Send the command once more, now that the reader and Stripe say it did not land."""
    count = synced.attempt.process_count if synced is not None else 0
    try:
        await svc.gateway.process_payment_intent(
            reader_id,
            payment_intent=payment_intent,
            idempotency_key=f"{attempt_id}:process:{count}:again",
        )
    except StripeFailure as failure:
        log.info("second try on %s failed too: %s", reader_id, failure)
        return await _landed(svc, reader_id, payment_intent)
    return True


async def cancel_intent(
    svc: Services, attempt_id: str, payment_intent: str, before: list[Any], cause: str
) -> None:
    """Cancel the PaymentIntent so none is left uncanceled, then record the attempt canceled."""
    try:
        await svc.gateway.cancel_payment_intent(
            payment_intent, idempotency_key=f"{attempt_id}:cancel"
        )
    except StripeFailure as failure:
        synced = await sync_attempt(svc, attempt_id, cause, check_reader=False)
        if synced is not None and synced.attempt.status is not AttemptStatus.CANCELED:
            if failure.network:
                raise stripe_unavailable(failure) from None
            raise ApiError(
                409,
                "invalid_state",
                "Cannot cancel",
                f"Stripe says the payment is {synced.attempt.status}: {failure.message}",
            ) from None
        return
    await apply(svc, attempt_id, [*before, Canceled()], cause)


async def cancel_payment(svc: Services, order: OrderRow, attempt_id: str) -> Json:
    """Cancel the reader action and the PaymentIntent (before capture only)."""
    row = await attempt_of_order(svc, order.id, attempt_id)
    cause = "operator:cancel_payment"
    try:
        await apply(svc, attempt_id, [CheckCancel()], cause)
    except IllegalTransition:
        raise ApiError(
            409, "invalid_state", "Cannot cancel", f"Attempt {attempt_id} is {row.status}."
        ) from None
    if row.status == AttemptStatus.ON_READER and row.reader_id:
        await cancel_reader_action(svc, row.reader_id)
    if row.payment_intent_id is None:
        await apply(svc, attempt_id, [Canceled()], cause)
    else:
        await cancel_intent(svc, attempt_id, row.payment_intent_id, [], cause)
    return await attempt_view(svc, attempt_id)


async def cancel_reader_action(svc: Services, reader_id: str) -> None:
    """Ask the reader to drop its action; a reader with nothing to cancel is fine."""
    try:
        await svc.gateway.cancel_action(reader_id)
    except StripeFailure as failure:
        if failure.network:
            raise stripe_unavailable(failure) from None
        log.info("cancel_action on %s: %s", reader_id, failure)


async def release_stuck(svc: Services, attempt_id: str, cause: str) -> None:
    """Resolve an attempt whose reader was cleared: Stripe's word, else canceled."""
    synced = await sync_attempt(svc, attempt_id, cause, check_reader=False)
    row = await attempt_row(svc, attempt_id)
    if row is None or (synced is not None and synced.attempt.status is AttemptStatus.CANCELED):
        return
    if row.status in (AttemptStatus.AUTHORIZED, AttemptStatus.CAPTURED):
        return
    if row.payment_intent_id:
        await cancel_intent(svc, attempt_id, row.payment_intent_id, [], cause)
    else:
        await apply(svc, attempt_id, [Canceled()], cause)


__all__ = ["cancel_payment", "release_stuck", "retry_payment", "start_payment", "usable_reader"]
