"""Signing in with a bearer credential or the browser session, CSRF, and sign-in rate limiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import update

from countertop.backend import auth, auth_cache
from countertop.backend.auth_cache import PrincipalCache
from countertop.backend.store.operators import OperatorSessionRow
from tests.backend.auth_support import (  # app_on_each_database: the `app` fixture
    ADMIN_CREDENTIAL,
    DEMO_LOCATIONS,
    OPERATOR_CREDENTIAL,
    app_on_each_database,  # noqa: F401
    bearer,
    client,
    running_app,
    settings_for,
    sign_in,
)
from tests.conftest import fresh_database


async def test_a_bearer_credential_identifies_the_operator(app: FastAPI) -> None:
    async with client(app) as http:
        response = await http.get("/api/session", headers=bearer(OPERATOR_CREDENTIAL))
    assert response.status_code == 200
    body = response.json()
    assert body["csrf_token"] is None
    assert body["operator"]["role"] == "operator"
    assert body["operator"]["locations"] == DEMO_LOCATIONS


async def test_no_or_unknown_credentials_are_unauthenticated(app: FastAPI) -> None:
    async with client(app) as http:
        for headers in (
            {},
            bearer("ctk_not-a-real-credential"),
            {"Authorization": f"Basic {OPERATOR_CREDENTIAL}"},
            {"Authorization": "Bearer "},
        ):
            response = await http.get("/api/session", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "unauthenticated"


async def test_sign_in_sets_a_strict_http_only_cookie(app: FastAPI) -> None:
    async with client(app) as http:
        response = await http.post("/api/session", json={"credential": OPERATOR_CREDENTIAL})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("countertop_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        assert response.json()["operator"]["name"] == "Demo operator"
        assert response.json()["csrf_token"]

        again = await http.get("/api/session")
        assert again.status_code == 200
        assert again.json()["operator"]["id"] == response.json()["operator"]["id"]
        assert again.json()["csrf_token"]


async def test_a_wrong_or_empty_credential_does_not_sign_in(app: FastAPI) -> None:
    async with client(app) as http:
        wrong = await http.post("/api/session", json={"credential": "nope"})
        assert wrong.status_code == 401
        assert "set-cookie" not in wrong.headers
        for body in ({"credential": ""}, {"credential": 12}, {}, {"credential": "x" * 513}):
            refused = await http.post("/api/session", json=body)
            assert refused.status_code == 400, body
            assert refused.json()["code"] == "validation_error"
        malformed = await http.post("/api/session", content=b"{not json")
        assert malformed.status_code == 400
        # A credential that fails validation is not echoed back.
        long_one = OPERATOR_CREDENTIAL * 20
        echoed = await http.post("/api/session", json={"credential": long_one})
        assert echoed.status_code == 400 and long_one not in echoed.text
        assert (await http.get("/api/session")).status_code == 401


async def test_sign_out_ends_the_session_for_good(app: FastAPI) -> None:
    async with client(app) as http:
        csrf = await sign_in(http, OPERATOR_CREDENTIAL)
        stolen = http.cookies["countertop_session"]
        response = await http.delete("/api/session", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
        assert "countertop_session" not in http.cookies
        assert (await http.get("/api/session")).status_code == 401
        # The old cookie value, replayed, is refused: the session is gone on the server.
        http.cookies.set("countertop_session", stolen)
        assert (await http.get("/api/session")).status_code == 401


async def test_an_expired_session_is_refused(app: FastAPI) -> None:
    async with client(app) as http:
        await sign_in(http, OPERATOR_CREDENTIAL)
        async with app.state.db.session() as s:
            await s.execute(
                update(OperatorSessionRow).values(
                    expires_at=datetime.now(UTC) - timedelta(seconds=1)
                )
            )
            await s.commit()
        response = await http.get("/api/session")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_sign_out_without_a_session_still_clears_the_cookie(app: FastAPI) -> None:
    async with client(app) as http:
        http.cookies.set("countertop_session", "forged.value.here")
        response = await http.delete("/api/session")
        assert response.status_code == 204
        assert "countertop_session=" in response.headers["set-cookie"]


async def test_cookie_requests_that_change_things_need_the_csrf_token(app: FastAPI) -> None:
    new_operator = {"name": "Patio till", "role": "operator", "locations": ["tml_Patio"]}
    async with client(app) as http, client(app, "10.0.0.2") as other:
        csrf = await sign_in(http, ADMIN_CREDENTIAL)
        other_csrf = await sign_in(other, ADMIN_CREDENTIAL)
        for headers in ({}, {"X-CSRF-Token": "made-up"}, {"X-CSRF-Token": other_csrf}):
            refused = await http.post("/api/operators", json=new_operator, headers=headers)
            assert refused.status_code == 403, headers
            assert refused.json()["code"] == "csrf_failed"
        refused = await http.delete("/api/session")
        assert refused.json()["code"] == "csrf_failed"

        # Reading needs no token; writing with the session's own token works.
        assert (await http.get("/api/operators")).status_code == 200
        accepted = await http.post(
            "/api/operators", json=new_operator, headers={"X-CSRF-Token": csrf}
        )
        assert accepted.status_code == 201
        # A fresh token from GET /api/session works too.
        fresh = (await http.get("/api/session")).json()["csrf_token"]
        signed_out = await http.delete("/api/session", headers={"X-CSRF-Token": fresh})
        assert signed_out.status_code == 204


async def test_bearer_requests_need_no_csrf_token(app: FastAPI) -> None:
    async with client(app) as http:
        response = await http.post(
            "/api/operators",
            json={"name": "Bar till", "locations": ["tml_Bar"]},
            headers=bearer(ADMIN_CREDENTIAL),
        )
    assert response.status_code == 201


async def test_repeated_failed_sign_ins_are_rate_limited_per_address(app: FastAPI) -> None:
    async with client(app, "10.9.9.9") as attacker, client(app, "10.0.0.7") as till:
        for _ in range(10):
            response = await attacker.post("/api/session", json={"credential": "guess"})
            assert response.status_code == 401
        limited = await attacker.post("/api/session", json={"credential": "guess"})
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # While limited, even the right credential is not tried, by cookie or by bearer.
        right = await attacker.post("/api/session", json={"credential": OPERATOR_CREDENTIAL})
        assert right.status_code == 429
        assert (
            await attacker.get("/api/session", headers=bearer(OPERATOR_CREDENTIAL))
        ).status_code == 429
        # Another address is unaffected.
        assert (
            await till.post("/api/session", json={"credential": OPERATOR_CREDENTIAL})
        ).status_code == 200


async def test_failed_bearer_credentials_count_towards_the_limit(app: FastAPI) -> None:
    async with client(app, "10.8.8.8") as http:
        for _ in range(10):
            assert (await http.get("/api/session", headers=bearer("guess"))).status_code == 401
        assert (await http.get("/api/session", headers=bearer("guess"))).status_code == 429


async def test_instances_sharing_the_session_secret_accept_each_others_cookies(
    tmp_path: Path,
) -> None:
    async with fresh_database("sqlite", tmp_path) as url:
        shared = settings_for(url, COUNTERTOP_SESSION_SECRET="one-secret-for-every-instance")
        async with (
            running_app(shared) as first,
            running_app(shared) as second,
            running_app(settings_for(url)) as unconfigured,
        ):
            async with client(first) as http:
                await sign_in(http, OPERATOR_CREDENTIAL)
                cookie = http.cookies["countertop_session"]
            async with client(second) as http:
                http.cookies.set("countertop_session", cookie)
                assert (await http.get("/api/session")).status_code == 200
            async with client(unconfigured) as http:
                http.cookies.set("countertop_session", cookie)
                assert (await http.get("/api/session")).status_code == 401


async def test_the_openapi_document_declares_both_ways_to_authenticate(app: FastAPI) -> None:
    async with client(app) as http:
        document = (await http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["credential"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An operator credential.",
    }
    assert (schemes["session"]["in"], schemes["session"]["name"]) == (
        "cookie",
        "countertop_session",
    )
    for method, path in (("get", "/api/operators"), ("get", "/api/session")):
        assert document["paths"][path][method]["security"] == [{"credential": []}, {"session": []}]
    assert "security" not in document["paths"]["/api/session"]["post"]


async def test_another_instance_drops_a_deleted_operator_once_its_memory_expires(
    tmp_path: Path,
) -> None:
    clock = [0.0]
    async with fresh_database("sqlite", tmp_path) as url:
        shared = settings_for(url, COUNTERTOP_SESSION_SECRET="one-secret-for-every-instance")
        async with running_app(shared) as first, running_app(shared) as second:
            auth.auth_state(second).cache = PrincipalCache(clock=lambda: clock[0])
            async with client(first) as admin:
                created = await admin.post(
                    "/api/operators",
                    json={"name": "Roaming till", "locations": ["tml_A"]},
                    headers=bearer(ADMIN_CREDENTIAL),
                )
                credential, operator_id = created.json()["credential"], created.json()["id"]
            async with client(second) as till:
                await sign_in(till, credential)
                assert (await till.get("/api/session")).status_code == 200
                assert (
                    await till.get("/api/session", headers=bearer(credential))
                ).status_code == 200
                async with client(first) as admin:
                    deleted = await admin.delete(
                        f"/api/operators/{operator_id}", headers=bearer(ADMIN_CREDENTIAL)
                    )
                    assert deleted.status_code == 204
                    # The instance that deleted it refuses at once.
                    gone = await admin.get("/api/session", headers=bearer(credential))
                    assert gone.status_code == 401
                clock[0] += auth_cache.CACHE_SECONDS + 0.1
                assert (await till.get("/api/session")).status_code == 401
                assert (
                    await till.get("/api/session", headers=bearer(credential))
                ).status_code == 401
