"""The POS page shells and static files, served without a browser or a backend behind them."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from countertop.pos.router import router


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/", "signin.js"),
        ("/till", "till.js"),
        ("/orders", "orders.js"),
        ("/orders/ord_123", "order.js"),
        ("/fleet", "fleet.js"),
        ("/end-of-day", "end-of-day.js"),
        ("/reader-configurations", "reader-configurations.js"),
    ],
)
def test_each_page_is_a_shell_that_loads_its_own_module(
    client: TestClient, path: str, script: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'src="/static/pos/{script}"' in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"


def test_the_order_page_carries_the_order_id_for_its_script(client: TestClient) -> None:
    assert 'data-order-id="ord_abc"' in client.get("/orders/ord_abc").text


def test_an_order_id_that_is_not_an_id_is_not_found(client: TestClient) -> None:
    assert client.get("/orders/%3Cscript%3E").status_code == 404


def test_static_files_have_their_types(client: TestClient) -> None:
    script = client.get("/static/pos/till.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/pos/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/pos/icon.svg").headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize(
    "path", ["/static/pos/../router.py", "/static/pos/%2e%2e/router.py", "/static/pos/nope.js"]
)
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_no_page_holds_anything_secret(client: TestClient) -> None:
    for path in ("/", "/till", "/orders", "/fleet", "/end-of-day", "/reader-configurations"):
        text = client.get(path).text.lower()
        assert "sk_test" not in text
        assert "sk_live" not in text
        assert "whsec_" not in text
