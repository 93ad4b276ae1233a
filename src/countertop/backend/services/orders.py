"""Orders: creating them, and the Order JSON of docs/api.md (with attempts and history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from countertop.backend.services.context import Services, new_id
from countertop.backend.services.recent import Recent
from countertop.backend.services.records import Executor, error_from_json
from countertop.backend.store.base import detached
from countertop.backend.store.db import Database
from countertop.backend.store.lists import in_list
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


def attempt_json(row: AttemptRow | Any) -> dict[str, Any]:
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
    order: OrderRow | Any,
    items: Sequence[LineItemRow | Any],
    attempts: Sequence[AttemptRow | Any],
    history: Sequence[TransitionRow | Any],
) -> dict[str, Any]:
    """The Order JSON of an order's row and its items, attempts and history (ORM objects or rows
    of their columns)."""
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


_LINE_ITEMS = (
    select(*LineItemRow.__table__.columns)
    .where(LineItemRow.order_id == bindparam("order_id"))
    .order_by(LineItemRow.position)
)


# Line items of recent orders, by order id. An order's items are written once, with the order,
# and never change, so what was written or read once is the answer for good, on every instance;
# each sale reads them twice or more (the cart shown on the reader, every live view of the order).
KNOWN_ITEMS: Recent[str, list[Any]] = Recent(10_000)


async def line_items(s: Executor, order_id: str) -> list[Any]:
    """The order's line items in cart order (rows with LineItemRow's columns)."""
    items = KNOWN_ITEMS.get(order_id)
    if items is None:
        items = list((await s.execute(_LINE_ITEMS, {"order_id": order_id})).all())
        KNOWN_ITEMS.put(order_id, items)
    return items


def _columns(model: Any) -> Any:
    return select(*model.__table__.columns)


# Each order with its attempts (labelled `attempt_*`; one row of NULLs for an order with none).
_ORDERS_AND_ATTEMPTS = (
    select(
        *OrderRow.__table__.columns,
        *(c.label(f"attempt_{c.key}") for c in AttemptRow.__table__.columns),
    )
    .select_from(OrderRow)
    .outerjoin(AttemptRow, AttemptRow.order_id == OrderRow.id)
    .where(in_list(OrderRow.id, "ids"))
    .order_by(OrderRow.id, AttemptRow.created_at, AttemptRow.id)
)
_ITEMS_OF = (
    _columns(LineItemRow)
    .where(in_list(LineItemRow.order_id, "ids"))
    .order_by(LineItemRow.order_id, LineItemRow.position)
)
_HISTORY_OF = (
    _columns(TransitionRow).where(in_list(TransitionRow.order_id, "ids")).order_by(TransitionRow.id)
)


async def load_views(s: Executor, order_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The Order JSON of several orders in two queries (orders with their attempts, history)
    and a third for the line items of orders not seen before.

    Plain rows, not ORM objects: the views are built and sent, never changed.
    """
    if not order_ids:
        return []
    ids = {"ids": list(order_ids)}
    orders: dict[str, Any] = {}
    attempts: dict[str, list[Any]] = {}
    for row in await s.execute(_ORDERS_AND_ATTEMPTS, ids):
        if row.id not in orders:
            orders[row.id], attempts[row.id] = row, []
        if row.attempt_id is not None:
            attempts[row.id].append(detached(AttemptRow, row, "attempt_"))
    if not orders:
        return []
    items: dict[str, list[Any]] = {}
    history: dict[str, list[Any]] = {}
    unknown = []
    for order in orders.values():
        known = KNOWN_ITEMS.get(order.id)
        if known is None:
            unknown.append(order.id)
        else:
            items[order.id] = known
    if unknown:
        for item in await s.execute(_ITEMS_OF, {"ids": unknown}):
            items.setdefault(item.order_id, []).append(item)
        for order_id in unknown:
            KNOWN_ITEMS.put(order_id, items.get(order_id, []))
    for step in await s.execute(_HISTORY_OF, ids):
        history.setdefault(step.order_id, []).append(step)
    return [
        order_json(orders[i], items.get(i, []), attempts[i], history.get(i, []))
        for i in order_ids
        if i in orders
    ]


async def get_order_view(db: Database, order_id: str) -> dict[str, Any] | None:
    """The Order JSON with attempts and history, or None."""
    async with db.direct.snapshot() as s:
        views = await load_views(s, [order_id])
    return views[0] if views else None


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


_INSERT_ORDER = insert(OrderRow)
_INSERT_ITEMS = insert(LineItemRow)
_INSERT_STEP = insert(TransitionRow)


def _named(model: Any, prefix: str) -> dict[str, Any]:
    return {
        c.key: bindparam(f"{prefix}{c.key}", type_=c.type)
        for c in model.__table__.columns
        if c.autoincrement is not True
    }


@lru_cache(maxsize=128)
def _order_at_once(item_count: int) -> Any:
    """PostgreSQL: the order, its line items and its first history row in one statement (its
    data-modifying CTEs all commit, or none does). Parameters `o_*`, `i<n>_*` and `t_*`."""
    order = insert(OrderRow).values(_named(OrderRow, "o_")).returning(OrderRow.id).cte("o")
    step = insert(TransitionRow).values(_named(TransitionRow, "t_")).cte("t")
    ctes = [step]
    if item_count:
        rows = [_named(LineItemRow, f"i{n}_") for n in range(item_count)]
        ctes.append(insert(LineItemRow).values(rows).cte("i"))
    return select(order.c.id).add_cte(*ctes)


async def create_order(
    svc: Services, new: NewOrder, *, created_by: str | None, idempotency_key: str | None
) -> dict[str, Any]:
    """Record an order; the same Idempotency-Key returns the order it created the first time."""
    currency = normalize_currency(new.currency)
    now = svc.clock()
    order_id = new_id("ord")
    order: dict[str, Any] = {
        "id": order_id,
        "location_id": new.location_id,
        "currency": currency,
        "status": OrderStatus.OPEN.value,
        "subtotal": new.cart.subtotal,
        "tax": new.cart.tax,
        "tip": 0,
        "total": new.cart.total,
        "amount_captured": 0,
        "amount_refunded": 0,
        "card_brand": None,
        "card_last4": None,
        "idempotency_key": idempotency_key,
        "created_by": created_by,
        "created_at": now,
        "updated_at": now,
    }
    items: list[dict[str, Any]] = [
        {
            "order_id": order_id,
            "position": position,
            "description": item.description,
            "quantity": item.quantity,
            "unit_amount": item.unit_amount,
        }
        for position, item in enumerate(new.cart.line_items)
    ]
    created: dict[str, Any] = {
        "order_id": order_id,
        "entity": "order",
        "from_status": None,
        "to_status": OrderStatus.OPEN.value,
        "event": "created",
        "cause": f"api:create_order by {created_by}"[:255],
        "at": now,
    }
    view: dict[str, Any] | None
    try:
        if svc.db.is_sqlite:
            async with svc.db.direct.begin() as conn:
                await conn.execute(_INSERT_ORDER, order)
                await conn.execute(_INSERT_ITEMS, items)
                await conn.execute(_INSERT_STEP, created)
        else:  # one statement commits all three: no BEGIN and COMMIT round trips
            params = {f"o_{k}": v for k, v in order.items()}
            params.update({f"t_{k}": v for k, v in created.items()})
            for n, item in enumerate(items):
                params.update({f"i{n}_{k}": v for k, v in item.items()})
            async with svc.db.direct.autocommit() as conn:
                await conn.execute(_order_at_once(len(items)), params)
        # What was just written, not read back.
        rows = [SimpleNamespace(**values) for values in (order, *items, created)]
        KNOWN_ITEMS.put(order_id, rows[1:-1])
        view = order_json(rows[0], rows[1:-1], [], rows[-1:])
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
