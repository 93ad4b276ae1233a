"""Who is calling, and what they may touch.

Every route that needs an operator depends on `current_principal` (or `require_admin`). A caller
presents either `Authorization: Bearer <credential>` or the browser session cookie set by
`POST /api/session`; cookie-authenticated unsafe requests must also carry `X-CSRF-Token`.
An operator sees only its locations; an admin sees every location.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy.exc import IntegrityError

from countertop.backend.auth_cache import PrincipalCache
from countertop.backend.auth_credentials import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_SECONDS,
    SessionSigner,
    hash_credential,
    lookup_key,
    new_id,
    new_session_secret,
    verify_credential,
)
from countertop.backend.auth_ratelimit import SignInLimiter
from countertop.backend.errors import ApiError
from countertop.backend.store import operators as store
from countertop.backend.store.db import Database

log = logging.getLogger("countertop.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = timedelta(seconds=SESSION_MAX_AGE_SECONDS)
ADMIN_SEED = "admin"
DEMO_OPERATOR_SEED = "demo_operator"


@dataclass(frozen=True)
class Principal:
    """The signed-in operator, as the routes see it."""

    id: str
    name: str
    role: str
    is_admin: bool
    location_ids: frozenset[str] | None  # None: every location (admins)
    session_id: str | None = None  # set when signed in with the browser session cookie

    def can_access(self, location_id: str | None) -> bool:
        if self.location_ids is None:
            return True
        return location_id is not None and location_id in self.location_ids

    def check_location(self, location_id: str | None) -> None:
        """Raise `403 forbidden_location` unless this operator may use the location."""
        if not self.can_access(location_id):
            raise ApiError(
                403,
                "forbidden_location",
                "Location not allowed",
                f"Operator {self.id} may not use location {location_id}.",
            )

    def visible(self, location_ids: list[str]) -> list[str]:
        """The subset of `location_ids` this operator may see, in the given order."""
        return [loc for loc in location_ids if self.can_access(loc)]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "locations": sorted(self.location_ids or ()),
        }


def principal_of(row: store.OperatorRow, session_id: str | None = None) -> Principal:
    is_admin = row.role == "admin"
    return Principal(
        id=row.id,
        name=row.name,
        role=row.role,
        is_admin=is_admin,
        location_ids=None if is_admin else frozenset(row.location_ids),
        session_id=session_id,
    )


# --- per-app state: session signer, sign-in limiter, recent principals ---------------------------


@dataclass
class AuthState:
    signer: SessionSigner
    limiter: SignInLimiter
    cache: PrincipalCache[Principal] = field(default_factory=PrincipalCache)


def auth_state(app: FastAPI) -> AuthState:
    state: AuthState | None = getattr(app.state, "auth", None)
    if state is None:
        configured = app.state.settings.session_secret
        if configured is not None and configured.get_secret_value():
            secret = configured.get_secret_value()
        else:
            # Sessions then last as long as this process, and other instances do not accept them.
            secret = new_session_secret()
        state = AuthState(SessionSigner(secret), SignInLimiter())
        app.state.auth = state
    return state


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def unauthenticated(detail: str = "Sign in with an operator credential.") -> ApiError:
    return ApiError(401, "unauthenticated", "Not signed in", detail)


def check_rate_limit(request: Request) -> None:
    wait = auth_state(request.app).limiter.retry_after(client_address(request))
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "Too many sign-in attempts",
            f"Too many failed sign-in attempts from this address; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


# --- verifying credentials and sessions --------------------------------------------------------


async def operator_for_credential(db: Database, credential: str) -> store.OperatorRow | None:
    """The operator holding `credential`: one indexed query and a constant-time comparison."""
    async with db.session() as s:
        row = await store.operator_by_lookup(s, lookup_key(credential))
    if row is None or not verify_credential(credential, row.credential_salt, row.credential_digest):
        return None
    return row


async def sign_in_with_credential(request: Request, credential: str) -> store.OperatorRow:
    """Check a credential presented to sign in, counting failures per client address."""
    check_rate_limit(request)
    row = await operator_for_credential(request.app.state.db, credential)
    if row is None:
        auth_state(request.app).limiter.record_failure(client_address(request))
        log.info("sign-in refused", extra={"client": client_address(request)})
        raise unauthenticated("Unknown credential.")
    return row


def _bearer_credential(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise unauthenticated("Use `Authorization: Bearer <credential>`.")
    return credential


async def _principal_from_bearer(request: Request, credential: str) -> Principal:
    check_rate_limit(request)
    cache = auth_state(request.app).cache
    key = "bearer:" + hashlib.sha256(credential.encode()).hexdigest()
    principal = cache.get(key)
    if principal is None:
        principal = principal_of(await sign_in_with_credential(request, credential))
        cache.put(key, principal.id, principal)
    return principal


async def _principal_from_cookie(request: Request, cookie: str) -> Principal:
    state = auth_state(request.app)
    signer = state.signer
    session_id = signer.session_id(cookie)
    if session_id is None:
        raise unauthenticated("The session is invalid or has expired; sign in again.")
    key = "session:" + session_id
    principal = state.cache.get(key)
    if principal is None:
        async with request.app.state.db.session() as s:
            row = await store.operator_for_session(s, session_id, store.utcnow())
        if row is None:
            raise unauthenticated("The session has ended; sign in again.")
        principal = principal_of(row, session_id)
        state.cache.put(key, principal.id, principal)
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER, "")
        if not token or not signer.csrf_matches(token, session_id):
            raise ApiError(
                403,
                "csrf_failed",
                "CSRF check failed",
                f"Requests made with the session cookie must carry a valid {CSRF_HEADER} header.",
            )
    return principal


def forget_session(app: FastAPI, session_id: str) -> None:
    """After sign-out: this instance stops accepting the session at once."""
    auth_state(app).cache.forget("session:" + session_id)


def forget_operator(app: FastAPI, operator_id: str) -> None:
    """After deletion: this instance stops accepting the operator's credential and sessions."""
    auth_state(app).cache.forget_operator(operator_id)


async def authenticate(request: Request) -> Principal:
    credential = _bearer_credential(request)
    if credential is not None:
        return await _principal_from_bearer(request, credential)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await _principal_from_cookie(request, cookie)
    raise unauthenticated()


# --- FastAPI dependencies -----------------------------------------------------------------------

# Declared so the OpenAPI document shows both ways in; `authenticate` does the actual checking.
_bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="credential", description="An operator credential."
)
_cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The browser session from `POST /api/session`; unsafe requests also need "
    f"the `{CSRF_HEADER}` header.",
)


async def current_principal(
    request: Request,
    _bearer: Any = Depends(_bearer_scheme),
    _cookie: Any = Depends(_cookie_scheme),
) -> Principal:
    """The caller, or `401 unauthenticated` / `403 csrf_failed` / `429 rate_limited`."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is None:
        cached = await authenticate(request)
        request.state.principal = cached
    return cached


async def require_admin(
    request: Request,
    _bearer: Any = Depends(_bearer_scheme),
    _cookie: Any = Depends(_cookie_scheme),
) -> Principal:
    """The caller when an admin, otherwise `403 forbidden`."""
    principal = await current_principal(request)
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "Admins only", "Only an admin may do this.")
    return principal


# --- creating operators and seeding them from the environment --------------------------------


async def create_operator(
    db: Database,
    name: str,
    role: str,
    location_ids: list[str],
    credential: str,
    seed: str | None = None,
) -> store.OperatorRow:
    hashed = hash_credential(credential)
    new = store.NewOperator(
        id=new_id("op"),
        name=name,
        role=role,
        location_ids=[] if role == "admin" else location_ids,
        credential_lookup=hashed.lookup,
        credential_salt=hashed.salt,
        credential_digest=hashed.digest,
        seed=seed,
    )
    async with db.session() as s:
        row = await store.add_operator(s, new, store.utcnow())
        await s.commit()
    return row


async def _ensure_seeded(
    db: Database, seed: str, name: str, role: str, credential: str, location_ids: list[str]
) -> None:
    if not credential:
        raise ValueError(f"the {name} credential is empty")
    locations = [] if role == "admin" else location_ids
    for _ in range(2):  # a second pass when another instance seeded at the same moment
        try:
            if await _update_seeded(db, seed, role, credential, locations):
                return
            await create_operator(db, name, role, locations, credential, seed=seed)
            return
        except IntegrityError:
            continue
    raise RuntimeError(
        f"could not seed {name!r}: is its credential already held by another operator?"
    )


async def _update_seeded(
    db: Database, seed: str, role: str, credential: str, locations: list[str]
) -> bool:
    async with db.session() as s:
        row = await store.operator_by_seed(s, seed)
        if row is None:
            return False
        if not verify_credential(credential, row.credential_salt, row.credential_digest):
            hashed = hash_credential(credential)  # the credential was changed: replace it
            row.credential_lookup = hashed.lookup
            row.credential_salt = hashed.salt
            row.credential_digest = hashed.digest
        row.role = role
        store.set_locations(row, locations)
        await s.commit()
        return True


async def ensure_admin(db: Database, credential: str) -> None:
    """Make `credential` the seeded admin's (idempotent; a changed credential replaces the old)."""
    await _ensure_seeded(db, ADMIN_SEED, "Admin", "admin", credential, [])


async def ensure_demo_operator(db: Database, credential: str, location_ids: list[str]) -> None:
    """Make `credential` the seeded demo operator's, scoped to `location_ids` (idempotent)."""
    await _ensure_seeded(
        db, DEMO_OPERATOR_SEED, "Demo operator", "operator", credential, location_ids
    )
