"""Orders: creating them, and the Order JSON of docs/api.md (with attempts and history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from countertop.backend.services.context import Services, new_id
from countertop.backend.services.records import error_from_json
from countertop.backend.store.db import Database
from countertop.backend.store.payments import AttemptRow, LineItemRow, OrderRow, TransitionRow
from countertop.domain.declines import operator_message
from countertop.domain.errors import DomainError
from countertop.domain.money import normalize_currency
from countertop.domain.orders import Cart, LineItem, OrderStatus


@dataclass(frozen=True)
class NewOrder:
    location_id: str
    currency: str
    cart: Cart


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def attempt_json(row: AttemptRow) -> dict[str, Any]:
    error = error_from_json(row.last_error)
    capture_error = error_from_json(row.capture_error)
    return {
        "id": row.id,
        "status": row.status,
        "reader": row.reader_id,
        "payment_intent": row.payment_intent_id,
        "amount": row.amount,
        "tip": row.tip,
        "currency": row.currency,
        "last_error": None
        if error is None
        else {
            "code": error.code,
            "decline_code": error.decline_code,
            "message": error.message,
            "operator_message": operator_message(error),
        },
        "capture_error": None
        if capture_error is None
        else {"code": capture_error.code, "message": capture_error.message},
        "created": ms(row.created_at),
    }


def order_json(
    order: OrderRow,
    items: Sequence[LineItemRow],
    attempts: Sequence[AttemptRow],
    history: Sequence[TransitionRow],
) -> dict[str, Any]:
    card = (
        {"brand": order.card_brand, "last4": order.card_last4}
        if order.card_brand or order.card_last4
        else None
    )
    return {
        "id": order.id,
        "location": order.location_id,
        "status": order.status,
        "currency": order.currency,
        "line_items": [
            {
                "description": i.description,
                "quantity": i.quantity,
                "unit_amount": i.unit_amount,
                "amount": i.quantity * i.unit_amount,
            }
            for i in items
        ],
        "subtotal": order.subtotal,
        "tax": order.tax,
        "tip": order.tip,
        "total": order.total,
        "amount_captured": order.amount_captured,
        "amount_refunded": order.amount_refunded,
        "card": card,
        "created": ms(order.created_at),
        "attempts": [attempt_json(a) for a in attempts],
        "history": [
            {
                "at": ms(t.at),
                "entity": t.entity,
                "from": t.from_status,
                "to": t.to_status,
                "event": t.event,
                "cause": t.cause,
            }
            for t in history
        ],
    }


async def line_items(s: AsyncSession, order_id: str) -> list[LineItemRow]:
    query = (
        select(LineItemRow).where(LineItemRow.order_id == order_id).order_by(LineItemRow.position)
    )
    return list((await s.execute(query)).scalars())


async def _load_view(s: AsyncSession, order: OrderRow) -> dict[str, Any]:
    items = await line_items(s, order.id)
    attempts = (
        await s.execute(
            select(AttemptRow)
            .where(AttemptRow.order_id == order.id)
            .order_by(AttemptRow.created_at, AttemptRow.id)
        )
    ).scalars()
    history = (
        await s.execute(
            select(TransitionRow)
            .where(TransitionRow.order_id == order.id)
            .order_by(TransitionRow.id)
        )
    ).scalars()
    return order_json(order, list(items), list(attempts), list(history))


async def load_views(s: AsyncSession, order_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The Order JSON of several orders in four queries (orders, items, attempts, history)."""
    if not order_ids:
        return []
    ids = list(order_ids)
    orders = list((await s.execute(select(OrderRow).where(OrderRow.id.in_(ids)))).scalars())
    items: dict[str, list[LineItemRow]] = {}
    attempts: dict[str, list[AttemptRow]] = {}
    history: dict[str, list[TransitionRow]] = {}
    item_query = (
        select(LineItemRow)
        .where(LineItemRow.order_id.in_(ids))
        .order_by(LineItemRow.order_id, LineItemRow.position)
    )
    for item in (await s.execute(item_query)).scalars():
        items.setdefault(item.order_id, []).append(item)
    attempt_query = (
        select(AttemptRow)
        .where(AttemptRow.order_id.in_(ids))
        .order_by(AttemptRow.created_at, AttemptRow.id)
    )
    for attempt in (await s.execute(attempt_query)).scalars():
        attempts.setdefault(attempt.order_id, []).append(attempt)
    history_query = (
        select(TransitionRow).where(TransitionRow.order_id.in_(ids)).order_by(TransitionRow.id)
    )
    for step in (await s.execute(history_query)).scalars():
        history.setdefault(step.order_id, []).append(step)
    by_id = {
        o.id: order_json(o, items.get(o.id, []), attempts.get(o.id, []), history.get(o.id, []))
        for o in orders
    }
    return [by_id[i] for i in ids if i in by_id]


async def get_order_view(db: Database, order_id: str) -> dict[str, Any] | None:
    """The Order JSON with attempts and history, or None."""
    async with db.snapshot() as s:
        order = await s.get(OrderRow, order_id)
        if order is None:
            return None
        return await _load_view(s, order)


async def publish_order_view(
    svc: Services, order_id: str, view: dict[str, Any] | None = None
) -> None:
    if svc.nobody_listens():
        return
    view = view or await get_order_view(svc.db, order_id)
    if view is not None:
        from countertop.backend.live import publish_order

        await publish_order(svc.hub, view)


def build_cart(
    line_items: Sequence[tuple[str, int, int]] | None, tax: int, amount: int | None
) -> Cart:
    """A cart from line items and tax, or from a keyed amount (raises DomainError)."""
    if line_items and amount is not None:
        raise DomainError("give either line_items or amount, not both")
    if line_items:
        return Cart(tuple(LineItem(d, q, u) for d, q, u in line_items), tax)
    if amount is None:
        raise DomainError("give either line_items or amount")
    return Cart.keyed(amount)


async def create_order(
    svc: Services, new: NewOrder, *, created_by: str | None, idempotency_key: str | None
) -> dict[str, Any]:
    """Record an order; the same Idempotency-Key returns the order it created the first time."""
    currency = normalize_currency(new.currency)
    now = svc.clock()
    order_id = new_id("ord")
    order = OrderRow(
        id=order_id,
        location_id=new.location_id,
        currency=currency,
        status=OrderStatus.OPEN.value,
        subtotal=new.cart.subtotal,
        tax=new.cart.tax,
        tip=0,
        total=new.cart.total,
        amount_captured=0,
        amount_refunded=0,
        idempotency_key=idempotency_key,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    items = [
        LineItemRow(
            order_id=order_id,
            position=position,
            description=item.description,
            quantity=item.quantity,
            unit_amount=item.unit_amount,
        )
        for position, item in enumerate(new.cart.line_items)
    ]
    created = TransitionRow(
        order_id=order_id,
        entity="order",
        from_status=None,
        to_status=OrderStatus.OPEN.value,
        event="created",
        cause=f"api:create_order by {created_by}",
        at=now,
    )
    view: dict[str, Any] | None
    try:
        async with svc.db.session() as s, s.begin():
            s.add(order)
            await s.flush()
            s.add_all([*items, created])
        view = order_json(order, items, [], [created])  # what was just written, not read back
    except IntegrityError:
        if idempotency_key is None:
            raise
        async with svc.db.session() as s:
            found = (
                await s.execute(select(OrderRow).where(OrderRow.idempotency_key == idempotency_key))
            ).scalar_one()
            order_id = found.id
        view = await get_order_view(svc.db, order_id)
    assert view is not None
    if view["location"] != new.location_id:
        raise DomainError("this Idempotency-Key was used for another order")
    await publish_order_view(svc, order_id, view)
    return view


async def order_row(svc: Services, order_id: str) -> OrderRow | None:
    async with svc.db.session() as s:
        return await s.get(OrderRow, order_id)


async def list_orders(
    svc: Services,
    *,
    location_ids: Sequence[str] | None,
    on_date: date | None,
    status: str | None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Orders newest first, limited to the given locations (None: every location)."""
    query = select(OrderRow).order_by(OrderRow.created_at.desc(), OrderRow.id.desc()).limit(limit)
    if location_ids is not None:
        query = query.where(OrderRow.location_id.in_(list(location_ids)))
    if status:
        query = query.where(OrderRow.status == status)
    if on_date:
        start = datetime.combine(on_date, time.min, tzinfo=UTC)
        query = query.where(
            OrderRow.created_at >= start, OrderRow.created_at < start + timedelta(1)
        )
    async with svc.db.snapshot() as s:
        order_ids = list((await s.execute(query.with_only_columns(OrderRow.id))).scalars())
        return await load_views(s, order_ids)
