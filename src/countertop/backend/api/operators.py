"""Operators (admin only): list, create with a credential shown once, delete."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StringConstraints, model_validator

from countertop.backend import auth
from countertop.backend.api.problem_docs import problem_responses
from countertop.backend.auth import Principal, require_admin
from countertop.backend.auth_credentials import new_credential
from countertop.backend.errors import ApiError
from countertop.backend.services import locations
from countertop.backend.store import operators as store

log = logging.getLogger("countertop.auth")

router = APIRouter(tags=["operators"])

OPERATOR_ID = re.compile(r"op_[0-9a-f]{24}")
LocationId = Annotated[str, StringConstraints(pattern=r"^tml_[A-Za-z0-9]{1,60}$")]


class OperatorOut(BaseModel):
    id: str
    name: str
    role: Literal["operator", "admin"]
    locations: list[str] = Field(description="The operator's locations; empty for admins (all).")

    @classmethod
    def of(cls, principal: Principal) -> OperatorOut:
        return cls.model_validate(principal.to_json())


class OperatorList(BaseModel):
    data: list[OperatorOut]


class NewOperatorIn(BaseModel):
    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
        ),
    ]
    role: Literal["operator", "admin"] = "operator"
    locations: list[LocationId] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _operators_need_a_location(self) -> NewOperatorIn:
        if self.role == "operator" and not self.locations:
            raise ValueError("an operator needs at least one location")
        return self


class CreatedOperator(OperatorOut):
    credential: str = Field(description="Shown only in this response; store it now.")


@router.get(
    "/api/operators",
    response_model=OperatorList,
    summary="List operators (admin)",
    responses=problem_responses(401, 403, 429),
)
async def list_operators(request: Request, _: Principal = Depends(require_admin)) -> OperatorList:
    async with request.app.state.db.session() as s:
        rows = await store.list_operators(s)
    return OperatorList(data=[OperatorOut.of(auth.principal_of(row)) for row in rows])


@router.post(
    "/api/operators",
    response_model=CreatedOperator,
    status_code=201,
    summary="Create an operator (admin); the response carries its credential, once",
    responses=problem_responses(400, 401, 403, 429),
)
async def create_operator(
    body: NewOperatorIn, request: Request, admin: Principal = Depends(require_admin)
) -> CreatedOperator:
    await _check_locations_exist(request, body.locations)
    credential = new_credential()
    row = await auth.create_operator(
        request.app.state.db, body.name, body.role, list(body.locations), credential
    )
    log.info("operator created", extra={"operator_id": row.id, "by": admin.id})
    out = OperatorOut.of(auth.principal_of(row))
    return CreatedOperator(**out.model_dump(), credential=credential)


async def _check_locations_exist(request: Request, location_ids: list[str]) -> None:
    """Refuse locations Stripe does not know (a typo would leave the operator seeing nothing).

    Without a Stripe key there is nothing to check against, and the ids are taken as given."""
    svc = getattr(request.app.state, "services", None)
    if svc is None or not svc.gateway.configured or not location_ids:
        return
    known = {loc["id"] for loc in await locations.list_locations(svc, None)}
    unknown = sorted(set(location_ids) - known)
    if unknown:
        raise ApiError(
            400,
            "validation_error",
            "Invalid request",
            f"Unknown location: {', '.join(unknown)}.",
            errors=[{"loc": ["body", "locations"], "msg": "unknown location", "type": "unknown"}],
        )


@router.delete(
    "/api/operators/{operator_id}", status_code=204, summary="Delete an operator (admin)"
)
async def delete_operator(
    operator_id: str, request: Request, admin: Principal = Depends(require_admin)
) -> Response:
    """Deleting an operator revokes its credential and ends its browser sessions at once."""
    if operator_id == admin.id:
        raise ApiError(
            409, "invalid_state", "Cannot delete yourself", "Sign in as another admin to do this."
        )
    deleted = False
    if OPERATOR_ID.fullmatch(operator_id):  # anything else cannot name an operator
        async with request.app.state.db.session() as s:
            deleted = await store.delete_operator(s, operator_id)
            await s.commit()
        auth.forget_operator(request.app, operator_id)
    if not deleted:
        raise ApiError(404, "not_found", "Not found", f"No operator {operator_id}.")
    log.info("operator deleted", extra={"operator_id": operator_id, "by": admin.id})
    return Response(status_code=204)
