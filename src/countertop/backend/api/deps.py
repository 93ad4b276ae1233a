"""What the payment routes share: the services, scoped lookups, domain errors at the edge."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from countertop.backend.auth import Principal
from countertop.backend.errors import ApiError
from countertop.backend.services.context import Services
from countertop.backend.services.orders import order_row
from countertop.backend.store.payments import OrderRow
from countertop.domain.errors import DomainError


async def services(request: Request) -> Services:
    """The running services (async: FastAPI runs a plain function dependency on a worker
    thread, a thread hop on every request for a lookup)."""
    svc: Services | None = getattr(request.app.state, "services", None)
    if svc is None:
        raise ApiError(503, "starting", "Starting", "The backend is still starting.")
    return svc


ID_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# For query parameters naming a Stripe or Countertop object.
ID_QUERY = {"max_length": 64, "pattern": r"^[A-Za-z0-9_]+$"}


async def visible_order(svc: Services, principal: Principal, order_id: str) -> OrderRow:
    """The order if it exists in the caller's scope; 404 otherwise (its existence is not leaked)."""
    order = await order_row(svc, order_id) if ID_PATTERN.match(order_id) else None
    if order is None or not principal.can_access(order.location_id):
        raise ApiError(404, "not_found", "Not found", f"No such order: {order_id}")
    return order


def scope(principal: Principal, location: str | None) -> list[str] | None:
    """The locations a list covers: the one asked for (if allowed), else all the caller's."""
    if location is not None:
        principal.check_location(location)
        return [location]
    return None if principal.location_ids is None else sorted(principal.location_ids)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Business-rule violations in the input are 400s, never 500s."""
    try:
        yield
    except DomainError as error:
        raise ApiError(400, "validation_error", "Invalid request", str(error), errors=[]) from None
