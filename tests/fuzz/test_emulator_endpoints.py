"""Every emulator endpoint under random and malformed parameters, through real HTTP.

Whatever is sent (wrong types, deep brackets, huge numbers, unicode, missing or unknown
parameters, ids that do not exist, bodies that are not forms at all), the answer is a success or a
Stripe-shaped 4xx ``{"error": {"type", "message", ...}}``; never a 5xx, never a dropped connection.
Parameter names come from Stripe's own OpenAPI description of each endpoint, so the fuzz reaches
past the unknown-parameter check into each handler's validation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from countertop.emulator.resources import ROUTES
from countertop.emulator.server import EmulatorServer

# Stripe's published description, kept with the tests (as tests/emulator/openapi.py reads it).
SPEC = Path(__file__).resolve().parents[1] / "data" / "stripe" / "openapi-2023-09-12-subset.json"

ENDPOINTS = sorted({(method, template) for method, template, _ in ROUTES})
COMMON_NAMES = [
    "amount", "currency", "metadata", "expand", "limit", "starting_after", "ending_before",
    "payment_intent", "reader", "location", "label", "registration_code", "capture_method",
    "amount_to_capture", "process_config", "card_present", "amount_tip", "type", "charge",
    "payment_method_types", "cart", "line_items", "status", "created", "types", "url",
    "enabled_events", "confirm", "payment_method", "reason", "display_name", "address",
]  # fmt: skip


def spec_names() -> dict[tuple[str, str], list[str]]:
    """Parameter names (and one level of nested names) per endpoint, from Stripe's spec."""
    paths = json.loads(SPEC.read_text())["paths"]
    names: dict[tuple[str, str], list[str]] = {}
    for path, operations in paths.items():
        shape = re.sub(r"\{[^}]+\}", "{}", path)
        for method, operation in operations.items():
            found = [q["name"] for q in operation.get("parameters", []) if q.get("in") == "query"]
            body = operation.get("requestBody", {}).get("content", {})
            schema = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
            for name, prop in schema.get("properties", {}).items():
                found.append(name)
                for child in prop.get("properties", {}):
                    found.append(f"{name}[{child}]")
            names[(method.upper(), shape)] = found
    return names


NAMES = spec_names()


def names_for(method: str, template: str) -> list[str]:
    return NAMES.get((method, re.sub(r"\{[^}]+\}", "{}", template)), []) + COMMON_NAMES


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.url,
        headers={"Authorization": f"Bearer {emulator.secret_key}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def real_ids(http: httpx.Client) -> list[str]:
    """Objects that exist, so fuzzed requests also reach handlers past the id lookup."""
    address = {
        "address[line1]": "1 Main St", "address[city]": "Austin", "address[state]": "TX",
        "address[postal_code]": "78701", "address[country]": "US",
    }  # fmt: skip
    location = http.post("/v1/terminal/locations", data={"display_name": "Fuzz", **address})
    reader = http.post(
        "/v1/terminal/readers",
        data={"registration_code": "simulated-wpe", "location": location.json()["id"]},
    )
    intent = http.post(
        "/v1/payment_intents",
        data={"amount": "1000", "currency": "usd", "payment_method_types[0]": "card_present"},
    )
    ids = [location.json()["id"], reader.json()["id"], intent.json()["id"]]
    assert all(isinstance(i, str) for i in ids)
    return ids


HUGE = st.sampled_from(
    ["9" * 30, "-" + "9" * 30, "9" * 5000, "1e309", "NaN", "--5", "0x10", "1_000", "¹", "٣", "1.5"]
)
VALUE = st.one_of(
    st.integers().map(str),
    HUGE,
    st.text(max_size=30),
    st.sampled_from(["", "true", "false", "null", "[]", "{}", "card_present", "usd", "manual"]),
    st.text(alphabet="🙂字é\u0000\u202e", max_size=6),
)
SUFFIX = st.one_of(
    st.just(""),
    st.sampled_from(["[]", "[0]", "[1]", "[x]", "[][]", "[0][amount]", "[", "]", "[]]"]),
    st.integers(min_value=2, max_value=60).map(lambda depth: "[a]" * depth),
)


@st.composite
def requests(draw: st.DrawFn, real: list[str]) -> tuple[str, str, list[tuple[str, str]], Any]:
    method, template = draw(st.sampled_from(ENDPOINTS))
    path = template
    for _ in range(template.count("{")):
        ident = draw(st.one_of(st.sampled_from(real), st.text(min_size=1, max_size=12)))
        path = re.sub(r"\{[^}]+\}", quote(ident, safe=""), path, count=1)
    known = st.sampled_from(names_for(method, template))
    name = st.one_of(known, known, st.text(max_size=10))
    pairs = draw(st.lists(st.tuples(st.builds(str.__add__, name, SUFFIX), VALUE), max_size=8))
    raw = draw(st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=64)))
    return method, path, pairs, raw


def assert_stripe_shaped(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what} -> {answer.status_code} {answer.text[:300]}"
    body = answer.json()
    if answer.status_code >= 400:
        error = body["error"]
        assert isinstance(error["type"], str) and error["type"], what
        assert isinstance(error["message"], str) and error["message"], what
    else:
        assert isinstance(body, dict) and "object" in body, what


def send(http: httpx.Client, method: str, path: str, pairs: list[tuple[str, str]], raw: Any) -> Any:
    form = urlencode(pairs).encode() if raw is None else raw
    if method == "GET":
        return http.get(path + "?" + quote_from_bytes(form, safe="=&[]%"))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return http.request(method, path, content=form, headers=headers)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_malformed_requests_get_stripe_shaped_4xx(
    http: httpx.Client, real_ids: list[str], data: st.DataObject
) -> None:
    method, path, pairs, raw = data.draw(requests(real_ids))
    answer = send(http, method, path, pairs, raw)
    assert_stripe_shaped(answer, f"{method} {path} {pairs!r} {raw!r}")


@pytest.mark.parametrize(("method", "template"), ENDPOINTS)
def test_each_endpoint_refuses_unknown_and_deep_parameters(
    http: httpx.Client, real_ids: list[str], method: str, template: str
) -> None:
    path = re.sub(r"\{[^}]+\}", "nope_" + "x" * 8, template)
    for pairs in (
        [("zz_unknown_param", "1")],
        [("metadata" + "[a]" * 200, "1")],
        [("amount", "9" * 5000)],
        [("limit", "¹")],
    ):
        answer = send(http, method, path, pairs, None)
        assert_stripe_shaped(answer, f"{method} {path} {pairs[0][0][:30]}")
        assert answer.status_code in (400, 404), answer.text


def test_missing_required_parameters_name_the_parameter(http: httpx.Client) -> None:
    answer = http.post("/v1/payment_intents", data={"currency": "usd"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "amount"
    assert answer.json()["error"]["code"] == "parameter_missing"


def test_integer_parameters_refuse_non_ascii_and_overlong_digits(http: httpx.Client) -> None:
    for amount in ("¹", "٣٠٠", "9" * 5000, "--5"):
        answer = http.post(
            "/v1/payment_intents",
            data={"amount": amount, "currency": "usd", "payment_method_types[0]": "card_present"},
        )
        assert answer.status_code == 400, (amount, answer.text[:200])
        assert answer.json()["error"]["param"] == "amount"
