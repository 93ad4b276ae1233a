"""Reader configuration routes (admin) and connection tokens (any operator, for their location)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from countertop.backend import reader_configs
from countertop.backend.api.deps import services
from countertop.backend.auth import Principal, current_principal, require_admin
from countertop.backend.errors import ApiError
from countertop.backend.reader_configs import ConfigurationIn
from countertop.backend.services.context import Services

router = APIRouter(tags=["reader configurations"])
Admin = Annotated[Principal, Depends(require_admin)]
Caller = Annotated[Principal, Depends(current_principal)]
Svc = Annotated[Services, Depends(services)]
CONFIGS = "/api/reader-configurations"


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    configuration: str | None = Field(max_length=64, pattern=r"^tmc_[A-Za-z0-9]+$")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: str | None = Field(default=None, max_length=64)


@router.get(CONFIGS, summary="Reader configurations")
async def list_configurations(_: Admin, svc: Svc) -> dict[str, Any]:
    return {"data": await reader_configs.list_configurations(svc.gateway)}


@router.post(CONFIGS, status_code=201, summary="Create a reader configuration")
async def create_configuration(body: ConfigurationIn, _: Admin, svc: Svc) -> dict[str, Any]:
    return await reader_configs.create_configuration(svc.gateway, body)


@router.patch(CONFIGS + "/{configuration_id}", summary="Change a reader configuration")
async def update_configuration(
    configuration_id: str, body: ConfigurationIn, _: Admin, svc: Svc
) -> dict[str, Any]:
    return await reader_configs.update_configuration(svc.gateway, configuration_id, body)


@router.delete(CONFIGS + "/{configuration_id}", status_code=204, summary="Delete one")
async def delete_configuration(configuration_id: str, _: Admin, svc: Svc) -> Response:
    await reader_configs.delete_configuration(svc.gateway, configuration_id)
    return Response(status_code=204)


@router.put(
    "/api/locations/{location_id}/configuration",
    summary="Use a configuration for the location's readers (null: the account default)",
)
async def assign_configuration(
    location_id: str, body: AssignIn, _: Admin, svc: Svc
) -> dict[str, Any]:
    return await reader_configs.assign(svc.gateway, location_id, body.configuration)


@router.post(
    "/api/connection-tokens",
    status_code=201,
    summary="A Terminal SDK connection token scoped to one of the caller's locations",
)
async def connection_token(body: TokenIn, principal: Caller, svc: Svc) -> dict[str, Any]:
    location = body.location
    if location is None:
        mine = sorted(principal.location_ids or ())
        if len(mine) != 1:
            raise ApiError(
                400,
                "validation_error",
                "Invalid request",
                "Name the location the token is for.",
                errors=[{"loc": ["body", "location"], "msg": "required", "type": "missing"}],
            )
        location = mine[0]
    principal.check_location(location)
    return await reader_configs.connection_token(svc.gateway, location)
