"""Admins manage operators; operators are scoped to their locations; credentials never leak."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select

from countertop.backend import auth
from countertop.backend.auth import Principal, current_principal, require_admin
from countertop.backend.store import operators as store
from tests.backend.auth_support import (  # app_on_each_database: the `app` fixture
    ADMIN_CREDENTIAL,
    DEMO_LOCATIONS,
    OPERATOR_CREDENTIAL,
    app_on_each_database,  # noqa: F401
    bearer,
    client,
    sign_in,
    started_app,
)
from tests.conftest import DATABASES


async def create(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post("/api/operators", json=body, headers=bearer(ADMIN_CREDENTIAL))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_admin_creates_a_scoped_operator_whose_credential_works(app: FastAPI) -> None:
    async with client(app) as http:
        created = await create(http, name="Patio till", role="operator", locations=["tml_Patio"])
        assert created["id"].startswith("op_")
        assert created["role"] == "operator"
        assert created["locations"] == ["tml_Patio"]
        assert created["credential"].startswith("ctk_")

        me = await http.get("/api/session", headers=bearer(created["credential"]))
        assert me.json()["operator"] == {k: created[k] for k in ("id", "name", "role", "locations")}

        listed = await http.get("/api/operators", headers=bearer(ADMIN_CREDENTIAL))
        assert listed.status_code == 200
        names = {op["name"]: op for op in listed.json()["data"]}
        assert set(names) == {"Admin", "Demo operator", "Patio till"}
        assert all("credential" not in op for op in listed.json()["data"])


async def test_an_admin_created_as_admin_sees_every_location(app: FastAPI) -> None:
    async with client(app) as http:
        created = await create(http, name="Manager", role="admin", locations=["tml_Ignored"])
        assert created["locations"] == []
        me = await http.get("/api/operators", headers=bearer(created["credential"]))
        assert me.status_code == 200


async def test_operators_cannot_manage_operators(app: FastAPI) -> None:
    async with client(app) as http:
        headers = bearer(OPERATOR_CREDENTIAL)
        for method, path in (
            ("GET", "/api/operators"),
            ("POST", "/api/operators"),
            ("DELETE", "/api/operators/op_123"),
        ):
            body = {"name": "x", "locations": ["tml_A"]} if method == "POST" else None
            response = await http.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, path
            assert response.json()["code"] == "forbidden"
            anonymous = await http.request(method, path, json=body)
            assert anonymous.status_code == 401, path


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No places", "role": "operator", "locations": []},
        {"name": "No places", "role": "operator"},
        {"name": "", "locations": ["tml_A"]},
        {"name": "Bad place", "locations": ["not-a-location"]},
        {"name": "Bad role", "role": "owner", "locations": ["tml_A"]},
        {"name": 7, "locations": ["tml_A"]},
        {"name": "   ", "locations": ["tml_A"]},
        {"name": "Till\u0000one", "locations": ["tml_A"]},
        {"name": "Till\none", "locations": ["tml_A"]},
        {"name": "x" * 201, "locations": ["tml_A"]},
    ],
)
async def test_invalid_operators_are_refused_with_validation_errors(
    app: FastAPI, body: dict[str, Any]
) -> None:
    async with client(app) as http:
        response = await http.post("/api/operators", json=body, headers=bearer(ADMIN_CREDENTIAL))
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


async def test_deleting_an_operator_revokes_its_credential_and_sessions(app: FastAPI) -> None:
    async with client(app) as admin, client(app, "10.0.0.5") as till:
        created = await create(admin, name="Doomed till", locations=["tml_A"])
        await sign_in(till, created["credential"])
        assert (await till.get("/api/session")).status_code == 200

        deleted = await admin.delete(
            f"/api/operators/{created['id']}", headers=bearer(ADMIN_CREDENTIAL)
        )
        assert deleted.status_code == 204

        assert (await till.get("/api/session")).status_code == 401
        gone = await till.get("/api/session", headers=bearer(created["credential"]))
        assert gone.status_code == 401
        again = await admin.delete(
            f"/api/operators/{created['id']}", headers=bearer(ADMIN_CREDENTIAL)
        )
        assert again.status_code == 404
        assert again.json()["code"] == "not_found"
        for odd in ("op_%00", "%E2%82%AC", "x" * 300):
            odd_one = await admin.delete(f"/api/operators/{odd}", headers=bearer(ADMIN_CREDENTIAL))
            assert (odd_one.status_code, odd_one.json()["code"]) == (404, "not_found"), odd
    async with app.state.db.session() as s:
        left = await s.execute(
            select(store.OperatorSessionRow).where(
                store.OperatorSessionRow.operator_id == created["id"]
            )
        )
        assert left.first() is None


async def test_an_admin_cannot_delete_itself(app: FastAPI) -> None:
    async with client(app) as http:
        me = (await http.get("/api/session", headers=bearer(ADMIN_CREDENTIAL))).json()
        response = await http.delete(
            f"/api/operators/{me['operator']['id']}", headers=bearer(ADMIN_CREDENTIAL)
        )
        assert response.status_code == 409
        assert (await http.get("/api/session", headers=bearer(ADMIN_CREDENTIAL))).status_code == 200


def add_probe_routes(app: FastAPI) -> None:
    """Routes shaped like the product's: scoped reads and an admin-only write."""

    @app.get("/probe/locations/{location_id}")
    async def read(location_id: str, who: Principal = Depends(current_principal)) -> dict[str, str]:
        who.check_location(location_id)
        return {"location": location_id}

    @app.post("/probe/locations")
    async def write(who: Principal = Depends(require_admin)) -> dict[str, str]:
        return {"by": who.id}


async def test_routes_see_the_callers_scope(app: FastAPI) -> None:
    add_probe_routes(app)
    async with client(app) as http:
        own = await http.get(
            f"/probe/locations/{DEMO_LOCATIONS[0]}", headers=bearer(OPERATOR_CREDENTIAL)
        )
        assert own.status_code == 200
        other = await http.get(
            "/probe/locations/tml_Elsewhere", headers=bearer(OPERATOR_CREDENTIAL)
        )
        assert other.status_code == 403
        assert other.json()["code"] == "forbidden_location"
        admin = await http.get("/probe/locations/tml_Elsewhere", headers=bearer(ADMIN_CREDENTIAL))
        assert admin.status_code == 200
        write = await http.post("/probe/locations", headers=bearer(OPERATOR_CREDENTIAL))
        assert (write.status_code, write.json()["code"]) == (403, "forbidden")
        assert (
            await http.post("/probe/locations", headers=bearer(ADMIN_CREDENTIAL))
        ).status_code == 200


async def test_seeding_is_idempotent_and_follows_the_environment(app: FastAPI) -> None:
    db = app.state.db
    await asyncio.gather(*(auth.ensure_admin(db, ADMIN_CREDENTIAL) for _ in range(3)))
    await auth.ensure_demo_operator(db, "till-rotated-credential", ["tml_Only"])
    async with db.session() as s:
        rows = await store.list_operators(s)
    assert sorted((r.name, r.role) for r in rows) == [
        ("Admin", "admin"),
        ("Demo operator", "operator"),
    ]
    async with client(app) as http:
        assert (
            await http.get("/api/session", headers=bearer(OPERATOR_CREDENTIAL))
        ).status_code == 401
        me = await http.get("/api/session", headers=bearer("till-rotated-credential"))
        assert me.json()["operator"]["locations"] == ["tml_Only"]


async def test_instances_seeding_an_empty_database_at_once_create_one_admin(app: FastAPI) -> None:
    db = app.state.db
    async with db.session() as s:
        for row in await store.list_operators(s):
            await store.delete_operator(s, row.id)
        await s.commit()
    await asyncio.gather(*(auth.ensure_admin(db, ADMIN_CREDENTIAL) for _ in range(4)))
    async with db.session() as s:
        assert [(r.name, r.role) for r in await store.list_operators(s)] == [("Admin", "admin")]


async def test_one_credential_cannot_seed_two_operators(app: FastAPI) -> None:
    with pytest.raises(RuntimeError, match="already held"):
        await auth.ensure_demo_operator(app.state.db, ADMIN_CREDENTIAL, ["tml_A"])


async def test_credentials_are_stored_only_as_hashes(app: FastAPI) -> None:
    async with client(app) as http:
        created = await create(http, name="Kiosk", locations=["tml_A"])
        await sign_in(http, created["credential"])
    rows: list[str] = []
    async with app.state.db.engine.connect() as conn:
        for table in ("operators", "operator_locations", "operator_sessions"):
            result = await conn.exec_driver_sql(f"SELECT * FROM {table}")
            rows.extend(str(row) for row in result.all())
    dump = "\n".join(rows)
    assert "Kiosk" in dump and len(rows) >= 5  # three operators, locations, one session
    for secret in (created["credential"], ADMIN_CREDENTIAL, OPERATOR_CREDENTIAL):
        assert secret not in dump


@pytest.mark.parametrize("kind", DATABASES)
async def test_no_credential_or_secret_appears_in_responses_or_logs(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session_secret = "session-secret-" + secrets.token_hex(16)
    seen: list[str] = []
    async with (
        started_app(kind, tmp_path, COUNTERTOP_SESSION_SECRET=session_secret) as app,
        client(app) as http,
    ):
        created = await create(http, name="Kiosk", locations=["tml_A"])
        csrf = await sign_in(http, ADMIN_CREDENTIAL)
        for response in (
            await http.get("/api/session"),
            await http.get("/api/operators"),
            await http.post("/api/session", json={"credential": created["credential"] + "x"}),
            await http.get("/api/session", headers=bearer(created["credential"])),
            await http.delete("/api/session", headers={"X-CSRF-Token": csrf}),
            await http.get("/openapi.json"),
        ):
            seen.append(response.text + str(response.headers))
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "operator signed in" in logs  # the log was captured
    for value in (created["credential"], ADMIN_CREDENTIAL, OPERATOR_CREDENTIAL, session_secret):
        assert all(value not in text for text in seen)
        assert value not in logs
