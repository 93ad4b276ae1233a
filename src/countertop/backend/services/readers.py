"""Readers: live status from Stripe plus which order holds each one; register, rename, remove, clear."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from countertop.backend import metrics
from countertop.backend.errors import ApiError
from countertop.backend.services.attempts import not_found, stripe_unavailable
from countertop.backend.services.context import Services
from countertop.backend.services.in_person_refunds import clear_refund_on_reader
from countertop.backend.services.payments import cancel_reader_action, location_of, release_stuck
from countertop.backend.services.records import reader_holder
from countertop.backend.store.payments import ReaderHoldRow
from countertop.backend.stripe_gateway import StripeFailure

Json = dict[str, Any]


def reader_json(reader: Json, busy_order_id: str | None) -> Json:
    action = reader.get("action")
    return {
        "id": reader["id"],
        "label": reader.get("label"),
        "serial_number": reader.get("serial_number"),
        "device_type": reader.get("device_type"),
        "status": reader.get("status") or "offline",
        "location": location_of(reader),
        "last_seen_at": reader.get("last_seen_at"),
        "action": None
        if not action
        else {
            "type": action.get("type"),
            "status": action.get("status"),
            "failure_code": action.get("failure_code"),
            "failure_message": action.get("failure_message"),
        },
        "busy_order_id": busy_order_id,
    }


def stripe_error(failure: StripeFailure, what: str, ident: str) -> ApiError:
    if failure.http_status == 404:
        return not_found(what, ident)
    if failure.network:
        return stripe_unavailable(failure)
    return ApiError(400, "validation_error", "Stripe refused the request", failure.message)


async def _holds(svc: Services) -> dict[str, str]:
    async with svc.db.session() as s:
        rows = (await s.execute(select(ReaderHoldRow.reader_id, ReaderHoldRow.order_id))).all()
    return {r.reader_id: r.order_id for r in rows}


async def list_readers(svc: Services, location_ids: list[str] | None) -> list[Json]:
    """Readers of the given locations (None: all), with live status read from Stripe."""
    try:
        if location_ids is not None and len(location_ids) == 1:
            readers = await svc.gateway.list_readers(location=location_ids[0])
        else:
            readers = await svc.gateway.list_readers()
    except StripeFailure as failure:
        raise stripe_unavailable(failure) from None
    holds = await _holds(svc)
    shown = [r for r in readers if location_ids is None or location_of(r) in location_ids]
    shown.sort(key=lambda r: (str(r.get("label") or ""), r["id"]))
    views = [reader_json(r, holds.get(r["id"])) for r in shown]
    for view in views:  # what Stripe just said is the freshest status the metrics can have
        metrics.set_reader_status(view["id"], view["location"] or "", view["status"])
    return views


async def get_reader(svc: Services, reader_id: str) -> Json:
    try:
        reader = await svc.gateway.retrieve_reader(reader_id)
    except StripeFailure as failure:
        raise stripe_error(failure, "reader", reader_id) from None
    if reader.get("deleted"):
        raise not_found("reader", reader_id)
    return reader


async def reader_view(svc: Services, reader: Json) -> Json:
    hold = await reader_holder(svc, reader["id"])
    return reader_json(reader, hold.order_id if hold else None)


async def register_reader(
    svc: Services, registration_code: str, label: str | None, location: str
) -> Json:
    try:
        reader = await svc.gateway.create_reader(
            registration_code=registration_code, label=label, location=location
        )
    except StripeFailure as failure:
        raise stripe_error(failure, "location", location) from None
    await publish_reader_json(svc, reader_json(reader, None))
    return reader_json(reader, None)


async def rename_reader(svc: Services, reader_id: str, label: str) -> Json:
    try:
        reader = await svc.gateway.update_reader(reader_id, label=label)
    except StripeFailure as failure:
        raise stripe_error(failure, "reader", reader_id) from None
    view = await reader_view(svc, reader)
    await publish_reader_json(svc, view)
    return view


async def remove_reader(svc: Services, reader_id: str) -> None:
    if await reader_holder(svc, reader_id) is not None:
        raise ApiError(
            409,
            "reader_busy",
            "Reader busy",
            f"Reader {reader_id} holds a payment; clear it first.",
        )
    try:
        await svc.gateway.delete_reader(reader_id)
    except StripeFailure as failure:
        raise stripe_error(failure, "reader", reader_id) from None
    metrics.forget_reader(reader_id)
    svc.live.forget_reader(reader_id)


async def clear_reader(svc: Services, reader_id: str) -> Json:
    """Cancel the reader's action and release the attempt stuck on it."""
    await cancel_reader_action(svc, reader_id)
    await clear_refund_on_reader(svc, reader_id, f"operator:clear_reader {reader_id}")
    hold = await reader_holder(svc, reader_id)
    if hold is not None:
        await release_stuck(svc, hold.attempt_id, f"operator:clear_reader {reader_id}")
    view = await reader_view(svc, await get_reader(svc, reader_id))
    await publish_reader_json(svc, view)
    return view


async def simulate_card(
    svc: Services,
    reader_id: str,
    *,
    card_number: str | None,
    amount_tip: int | None,
    type: str | None,
) -> Json:
    """Present a test card on a simulated reader (emulator mode only)."""
    try:
        reader = await svc.gateway.present_payment_method(
            reader_id, card_number=card_number, amount_tip=amount_tip, type=type
        )
    except StripeFailure as failure:
        if failure.http_status == 404:
            raise not_found("reader", reader_id) from None
        if failure.network:
            raise stripe_unavailable(failure) from None
        raise ApiError(
            409, "invalid_state", "The reader has nothing to pay", failure.message
        ) from None
    return await reader_view(svc, reader)


async def publish_reader_json(svc: Services, view: Json) -> None:
    if svc.nobody_listens():
        return
    from countertop.backend.live import publish_reader

    await publish_reader(svc.hub, view)
