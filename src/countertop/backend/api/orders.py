"""Orders routes (see docs/api.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from countertop.backend.api.deps import ID_QUERY, domain_errors, scope, services, visible_order
from countertop.backend.api.documented import COMMON, OrderList, OrderOut, answers
from countertop.backend.api.schemas import OrderIn
from countertop.backend.auth import Principal, current_principal
from countertop.backend.services import orders
from countertop.backend.services.context import Services
from countertop.domain.orders import OrderStatus

router = APIRouter(prefix="/api/orders", tags=["orders"])
Caller = Annotated[Principal, Depends(current_principal)]
Svc = Annotated[Services, Depends(services)]


@router.post(
    "",
    status_code=201,
    summary="Create an order (a cart or a keyed amount)",
    responses=answers(OrderOut, 201, **COMMON, e403="forbidden_location"),
)
async def create_order(
    body: OrderIn,
    principal: Caller,
    svc: Svc,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    principal.check_location(body.location)
    with domain_errors():
        items = [(i.description, i.quantity, i.unit_amount) for i in body.line_items or []]
        cart = orders.build_cart(items, body.tax, body.amount)
        new = orders.NewOrder(body.location, body.currency or svc.settings.currency, cart)
        key = f"{principal.id}:{idempotency_key}" if idempotency_key else None
        return await orders.create_order(svc, new, created_by=principal.id, idempotency_key=key)


@router.get(
    "",
    summary="List orders, newest first",
    responses=answers(OrderList, **COMMON, e403="forbidden_location"),
)
async def list_orders(
    principal: Caller,
    svc: Svc,
    location: Annotated[str | None, Query(**ID_QUERY)] = None,
    date: Annotated[date | None, Query()] = None,
    status: Annotated[OrderStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    found = await orders.list_orders(
        svc,
        location_ids=scope(principal, location),
        on_date=date,
        status=status.value if status else None,
        limit=limit,
    )
    return {"data": found}


@router.get(
    "/{order_id}",
    summary="An order with its attempts and history",
    responses=answers(OrderOut, **COMMON),
)
async def get_order(order_id: str, principal: Caller, svc: Svc) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    view = await orders.get_order_view(svc.db, order.id)
    assert view is not None
    return view
