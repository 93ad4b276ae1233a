"""Readers routes (see docs/api.md): live status from Stripe, managed by admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from countertop.backend.api.deps import ID_QUERY, scope, services
from countertop.backend.api.documented import COMMON, ReaderList, ReaderOut, answers
from countertop.backend.api.schemas import ReaderIn, ReaderPatch, SimulateIn
from countertop.backend.auth import Principal, current_principal, require_admin
from countertop.backend.errors import ApiError
from countertop.backend.services import readers
from countertop.backend.services.context import Services
from countertop.backend.services.payments import location_of

router = APIRouter(prefix="/api/readers", tags=["readers"])
Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require_admin)]
Svc = Annotated[Services, Depends(services)]


async def _visible_reader(svc: Services, principal: Principal, reader_id: str) -> dict[str, Any]:
    reader = await readers.get_reader(svc, reader_id)
    if not principal.can_access(location_of(reader)):
        raise ApiError(404, "not_found", "Not found", f"No such reader: {reader_id}")
    return reader


@router.get(
    "",
    summary="Readers with live status",
    responses=answers(ReaderList, **COMMON, e403="forbidden_location"),
)
async def list_readers(
    principal: Caller, svc: Svc, location: Annotated[str | None, Query(**ID_QUERY)] = None
) -> dict[str, Any]:
    covered = scope(principal, location)
    if covered == []:
        return {"data": []}
    return {"data": await readers.list_readers(svc, covered)}


@router.get(
    "/{reader_id}", summary="One reader with live status", responses=answers(ReaderOut, **COMMON)
)
async def get_reader(reader_id: str, principal: Caller, svc: Svc) -> dict[str, Any]:
    return await readers.reader_view(svc, await _visible_reader(svc, principal, reader_id))


@router.post(
    "",
    status_code=201,
    summary="Register a reader with its registration code",
    responses=answers(ReaderOut, 201, **COMMON, e403="forbidden"),
)
async def register_reader(body: ReaderIn, _: Admin, svc: Svc) -> dict[str, Any]:
    return await readers.register_reader(svc, body.registration_code, body.label, body.location)


@router.patch(
    "/{reader_id}",
    summary="Rename a reader",
    responses=answers(ReaderOut, **COMMON, e403="forbidden"),
)
async def rename_reader(reader_id: str, body: ReaderPatch, _: Admin, svc: Svc) -> dict[str, Any]:
    return await readers.rename_reader(svc, reader_id, body.label)


@router.delete(
    "/{reader_id}",
    status_code=204,
    summary="Remove a reader",
    responses=answers(None, **COMMON, e403="forbidden", e409="reader_busy"),
)
async def remove_reader(reader_id: str, _: Admin, svc: Svc) -> Response:
    await readers.remove_reader(svc, reader_id)
    return Response(status_code=204)


@router.post(
    "/{reader_id}/clear",
    summary="Cancel a stuck reader action and release its payment",
    responses=answers(ReaderOut, **COMMON, e502="stripe_unavailable"),
)
async def clear_reader(reader_id: str, principal: Caller, svc: Svc) -> dict[str, Any]:
    await _visible_reader(svc, principal, reader_id)
    return await readers.clear_reader(svc, reader_id)


@router.post(
    "/{reader_id}/simulate",
    summary="Present a test card (emulator mode only)",
    responses=answers(ReaderOut, **COMMON, e409="invalid_state"),
)
async def simulate(
    reader_id: str, principal: Caller, svc: Svc, body: SimulateIn | None = None
) -> dict[str, Any]:
    if not svc.settings.emulator:
        raise ApiError(
            404,
            "simulator_unavailable",
            "Simulator unavailable",
            "The simulated reader panel exists only in emulator mode.",
        )
    await _visible_reader(svc, principal, reader_id)
    body = body or SimulateIn()
    return await readers.simulate_card(
        svc, reader_id, card_number=body.card_number, amount_tip=body.amount_tip, type=body.type
    )
