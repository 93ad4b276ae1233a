"""Locations routes (see docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from countertop.backend.api.deps import services
from countertop.backend.api.documented import COMMON, LocationList, LocationOut, answers
from countertop.backend.api.schemas import LocationIn, LocationPatch
from countertop.backend.auth import Principal, current_principal, require_admin
from countertop.backend.services import locations
from countertop.backend.services.context import Services

router = APIRouter(prefix="/api/locations", tags=["locations"])
Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require_admin)]
Svc = Annotated[Services, Depends(services)]


@router.get(
    "", summary="Locations in the caller's scope", responses=answers(LocationList, **COMMON)
)
async def list_locations(principal: Caller, svc: Svc) -> dict[str, Any]:
    scope = None if principal.location_ids is None else sorted(principal.location_ids)
    return {"data": await locations.list_locations(svc, scope)}


@router.post(
    "",
    status_code=201,
    summary="Create a location",
    responses=answers(LocationOut, 201, **COMMON, e403="forbidden"),
)
async def create_location(body: LocationIn, _: Admin, svc: Svc) -> dict[str, Any]:
    address = body.address.model_dump(exclude_none=True)
    return await locations.create_location(svc, body.display_name, address, body.account)


@router.patch(
    "/{location_id}",
    summary="Rename or re-address a location",
    responses=answers(LocationOut, **COMMON, e403="forbidden"),
)
async def update_location(
    location_id: str, body: LocationPatch, _: Admin, svc: Svc
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if body.display_name is not None:
        changes["display_name"] = body.display_name
    if body.address is not None:
        address = body.address.model_dump(exclude_none=True)
        address.pop("country", None)  # Stripe does not let a location change country
        changes["address"] = address
    if not changes:
        return await locations.get_location(svc, location_id)
    return await locations.update_location(svc, location_id, changes)
