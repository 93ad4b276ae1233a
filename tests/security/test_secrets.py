"""The Stripe secret key and the webhook signing secret never leave the server: not in an API
answer, an error, a page, a script, nor any log line written while a sale (and its failures) runs."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from countertop.pos.router import STATIC_DIR
from tests.backend.stack import ADMIN, Backend, Stripe, bearer
from tests.conftest import DATABASES
from tests.security.support import fill_path, read_routes, signature, two_shops, wait_for_status

pytestmark = pytest.mark.parametrize("database_url", DATABASES, indirect=True)


async def every_answer(backend: Backend, stripe: Stripe) -> list[str]:
    """Drive a sale, a Stripe outage and a forged webhook; read every page, script and GET route."""
    texts: list[str] = []
    shops = await two_shops(backend)
    async with httpx.AsyncClient(base_url=backend.url, headers=bearer(ADMIN), timeout=10) as http:
        presented = await http.post(f"/api/readers/{shops.reader_a}/simulate", json={})
        texts.append(presented.text)
        await wait_for_status(backend, shops.order_a, "paid")
        await stripe.control(
            "POST", "faults", {"kind": "error", "method": "POST", "path": "/v1/payment_intents"}
        )
        order = await http.post(
            "/api/orders", json={"location": shops.shop_a, "currency": "usd", "amount": 700}
        )
        failed = await http.post(
            f"/api/orders/{order.json()['id']}/payments", json={"reader": shops.reader_a}
        )
        assert failed.status_code == 502, failed.text
        texts += [order.text, failed.text]
        forged = await http.post(
            "/webhooks/stripe",
            content=b"{}",
            headers={"Stripe-Signature": signature(b"{}", "whsec_wrong")},
        )
        texts.append(forged.text)
        routes = await read_routes(http)
        texts.append(str(routes.document))
        values = {"order_id": shops.order_a, "location_id": shops.shop_a}
        for method, template, _ in routes.operations:
            if method == "GET" and not template.endswith("/events"):
                texts.append((await http.get(fill_path(template, values))).text)
        pages = [
            fill_path(r.path, {"order_id": shops.order_a})
            for r in backend.app.routes
            if isinstance(r, Route) and "GET" in (r.methods or ()) and "path:path" not in r.path
        ]
        for page in pages:
            texts.append((await http.get(page)).text)
        for file in sorted(Path(STATIC_DIR).rglob("*")):
            if file.is_file():
                answer = await http.get(f"/static/pos/{file.relative_to(STATIC_DIR)}")
                assert answer.status_code == 200, file
                texts.append(answer.text)
    return texts


async def test_secrets_never_appear_in_answers_pages_scripts_or_logs(
    backend: Backend,
    stripe_api: Stripe,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_key = stripe_api.emulator.secret_key
    webhook_secret: str = backend.app.state.webhook_secret
    assert secret_key.startswith("sk_test_") and webhook_secret.startswith("whsec_")
    texts = await every_answer(backend, stripe_api)
    await stripe_api.flush()
    assert len(texts) > 20
    for handler in logging.getLogger().handlers:
        handler.flush()  # informational lines are written in batches
    written = capfd.readouterr()
    logged = [record.getMessage() for record in caplog.records]
    logged += [caplog.text, written.out, written.err]
    assert any("webhook refused" in line for line in logged), "the logs were not captured"
    for secret in (secret_key, webhook_secret, webhook_secret.removeprefix("whsec_")):
        assert not [t for t in texts if secret in t], "a response carries a secret"
        assert not [line for line in logged if secret in line], "a log line carries a secret"
