"""Browser sign-in: `POST /api/session` sets the session cookie, `GET` reads it, `DELETE` ends it."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from countertop.backend import auth
from countertop.backend.api import operators
from countertop.backend.api.operators import OperatorOut
from countertop.backend.api.problem_docs import problem_responses
from countertop.backend.auth import Principal, current_principal
from countertop.backend.auth_credentials import SESSION_COOKIE, SESSION_MAX_AGE_SECONDS
from countertop.backend.errors import ApiError
from countertop.backend.store import operators as store

log = logging.getLogger("countertop.auth")

router = APIRouter(tags=["session"])
router.include_router(operators.router)


class SignIn(BaseModel):
    credential: str = Field(min_length=1, max_length=512)


class SessionOut(BaseModel):
    operator: OperatorOut
    csrf_token: str | None = Field(
        description="Send as `X-CSRF-Token` on unsafe requests made with the session cookie; "
        "null when authenticated with a bearer credential."
    )


def _is_https(request: Request) -> bool:
    public_url = request.app.state.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def _clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_is_https(request), httponly=True, samesite="strict"
    )


@router.post(
    "/api/session",
    response_model=SessionOut,
    summary="Sign in (browser session)",
    responses=problem_responses(400, 401, 429),
)
async def sign_in(body: SignIn, request: Request, response: Response) -> SessionOut:
    row = await auth.sign_in_with_credential(request, body.credential)
    session_id = secrets.token_urlsafe(32)
    async with request.app.state.db.session() as s:
        await store.add_session(s, session_id, row.id, store.utcnow(), auth.SESSION_LIFETIME)
        await s.commit()
    signer = auth.auth_state(request.app).signer
    response.set_cookie(
        SESSION_COOKIE,
        signer.cookie_value(session_id),
        max_age=SESSION_MAX_AGE_SECONDS,
        path="/",
        secure=_is_https(request),
        httponly=True,
        samesite="strict",
    )
    log.info("operator signed in", extra={"operator_id": row.id})
    principal = auth.principal_of(row, session_id)
    return SessionOut(operator=OperatorOut.of(principal), csrf_token=signer.csrf_token(session_id))


@router.get(
    "/api/session",
    response_model=SessionOut,
    summary="The signed-in operator",
    responses=problem_responses(401, 429),
)
async def get_session(
    request: Request, principal: Principal = Depends(current_principal)
) -> SessionOut:
    token = None
    if principal.session_id is not None:
        token = auth.auth_state(request.app).signer.csrf_token(principal.session_id)
    return SessionOut(operator=OperatorOut.of(principal), csrf_token=token)


@router.delete(
    "/api/session", status_code=204, summary="Sign out", responses=problem_responses(403, 429)
)
async def sign_out(request: Request) -> Response:
    """Ends the browser session. Answers 204 even when the session had already ended."""
    try:
        principal = await current_principal(request)
    except ApiError as error:
        if error.code != "unauthenticated":
            raise  # a missing CSRF token must not let another site sign the operator out
        principal = None
    if principal is not None and principal.session_id is not None:
        async with request.app.state.db.session() as s:
            await store.delete_session(s, principal.session_id)
            await s.commit()
        auth.forget_session(request.app, principal.session_id)
        log.info("operator signed out", extra={"operator_id": principal.id})
    done = Response(status_code=204)
    _clear_cookie(request, done)
    return done
