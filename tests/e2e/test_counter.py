"""Counter sales in a real browser: sell, decline and retry, cancel, busy and offline readers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import OPERATOR_CREDENTIAL, PHONE, Server, Tills
from tests.e2e.till_actions import (
    INSUFFICIENT_FUNDS,
    VISA,
    add_item,
    charge,
    current_order_id,
    expect_state,
    key_in_amount,
    present_card,
    select_reader,
    wait_for_order,
)

pytestmark = pytest.mark.e2e
Screenshot = Callable[[Page, str], None]


def test_operator_signs_in_with_the_keyboard_and_signs_out(
    tills: Tills, screenshot: Screenshot
) -> None:
    page = tills.page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to the till")).to_be_visible()
    expect(page.locator("#mode-note")).to_contain_text("emulator")
    screenshot(page, "sign-in")
    page.get_by_label("Operator credential").type(OPERATOR_CREDENTIAL)
    page.keyboard.press("Enter")
    page.wait_for_url("**/till")
    expect(page.locator("#operator-name")).not_to_be_empty()
    # Coming back to the start page with a session goes straight to the till.
    page.goto("/")
    page.wait_for_url("**/till")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(lambda url: url.endswith("/"))
    expect(page.get_by_role("heading", name="Sign in to the till")).to_be_visible()
    # Signed out, the till sends the browser back to sign in.
    page.goto("/till")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_label("Operator credential")).to_be_visible()


def test_cart_sale_is_approved_with_tip_and_receipt_summary(
    tills: Tills, admin: httpx.Client, demo_readers: list[dict[str, Any]], screenshot: Screenshot
) -> None:
    reader = demo_readers[0]
    page = tills.signed_in()
    select_reader(page, reader["id"])
    add_item(page, "Flat white", 2, "4.50")
    add_item(page, "Almond croissant", 1, "3.75")
    # 8% tax: $13.77 in all, an amount the test card network approves (see docs/emulator.md).
    page.get_by_label("Tax rate %").fill("8")
    expect(page.locator("#subtotal")).to_have_text("$12.75")
    expect(page.locator("#tax")).to_have_text("$1.02")
    expect(page.locator("#charge")).to_have_text("Charge $13.77")
    screenshot(page, "till-idle")

    charge(page)
    expect(page.locator("#state-title")).to_have_text("Waiting for card")
    expect(page.locator("#state-detail")).to_contain_text(reader["label"])
    # This till's own sale holds the reader: it says so, and offers no "clear" for it.
    own = page.locator(f'li[data-reader-id="{reader["id"]}"]')
    expect(own).to_have_attribute("data-state", "in-use")
    expect(own.get_by_role("button", name="Clear reader")).to_have_count(0)
    screenshot(page, "till-waiting-for-card")

    present_card(page, VISA, tip="2.00")
    expect_state(page, "approved")
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text("2 \u00d7 Flat white")
    expect(receipt).to_contain_text("1 \u00d7 Almond croissant")
    expect(receipt).to_contain_text("$2.00")  # the tip entered on the reader
    expect(receipt).to_contain_text("•••• 4242")
    expect(page.get_by_role("button", name="New sale")).to_be_visible()
    order_id = current_order_id(page)
    order = wait_for_order(admin, order_id, {"paid"})
    assert order["status"] == "paid"
    assert order["tip"] == 200
    assert order["total"] == 1377 + 200
    expect(receipt).to_contain_text("Captured")
    screenshot(page, "till-approved")

    page.get_by_role("button", name="New sale").click()
    expect_state(page, "idle")
    expect(page.locator("#cart-empty")).to_be_visible()


def test_declined_card_then_retry_reuses_the_same_payment_intent(
    tills: Tills, admin: httpx.Client, demo_readers: list[dict[str, Any]], screenshot: Screenshot
) -> None:
    page = tills.signed_in()
    select_reader(page, demo_readers[0]["id"])
    key_in_amount(page, "23.40")
    charge(page)
    present_card(page, INSUFFICIENT_FUNDS)
    expect_state(page, "declined")
    expect(page.locator("#state-detail")).to_contain_text(re.compile("funds", re.IGNORECASE))
    expect(page.get_by_role("button", name="Retry payment")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel sale")).to_be_visible()
    screenshot(page, "till-declined")

    page.get_by_role("button", name="Retry payment").click()
    expect_state(page, "waiting")
    present_card(page, VISA)
    expect_state(page, "approved")

    order = wait_for_order(admin, current_order_id(page), {"paid"})
    assert order["status"] == "paid"
    assert order["amount_captured"] == 2340
    payment_intents = {attempt["payment_intent"] for attempt in order["attempts"]}
    assert len(payment_intents) == 1, order["attempts"]


def test_operator_cancels_a_sale_waiting_for_a_card(
    tills: Tills, admin: httpx.Client, demo_readers: list[dict[str, Any]]
) -> None:
    reader = demo_readers[1]
    page = tills.signed_in()
    select_reader(page, reader["id"])
    key_in_amount(page, "9.99")
    charge(page)
    order_id = current_order_id(page)
    page.get_by_role("button", name="Cancel sale").click()
    expect_state(page, "canceled")
    expect(page.locator("#state-title")).to_have_text("Sale canceled")
    order = admin.get(f"/api/orders/{order_id}").raise_for_status().json()
    assert [attempt["status"] for attempt in order["attempts"]] == ["canceled"]
    assert order["amount_captured"] == 0
    readers = admin.get("/api/readers", params={"location": reader["location"]}).json()["data"]
    assert next(r for r in readers if r["id"] == reader["id"])["busy_order_id"] is None
    page.get_by_role("button", name="Back to the sale").click()
    expect(page.locator(f'li[data-reader-id="{reader["id"]}"]')).to_have_attribute(
        "data-state", "ready"
    )
    # The same sale can be charged again; it pays the same order.
    expect(page.get_by_label("Amount to charge")).to_have_value("9.99")
    charge(page)
    assert current_order_id(page) == order_id
    page.get_by_role("button", name="Cancel sale").click()
    expect_state(page, "canceled")


def test_reader_busy_on_another_till_disables_charge_until_it_is_free(
    tills: Tills, demo_readers: list[dict[str, Any]]
) -> None:
    reader = demo_readers[1]
    first = tills.signed_in()
    select_reader(first, reader["id"])
    key_in_amount(first, "15.00")
    charge(first)
    order_id = current_order_id(first)

    second = tills.signed_in()
    select_reader(second, reader["id"])
    key_in_amount(second, "4.00")
    card = second.locator(f'li[data-reader-id="{reader["id"]}"]')
    expect(card).to_have_attribute("data-state", "busy")
    expect(card).to_contain_text(f"Busy with order {order_id}")
    expect(second.locator("#charge")).to_be_disabled()
    expect(second.locator("#charge-hint")).to_contain_text("busy")

    first.get_by_role("button", name="Cancel sale").click()
    expect_state(first, "canceled")
    expect(card).to_have_attribute("data-state", "ready")
    expect(second.locator("#charge")).to_be_enabled()


def test_operator_clears_a_reader_stuck_with_an_abandoned_sale(
    tills: Tills,
    admin: httpx.Client,
    demo_location: dict[str, Any],
    demo_readers: list[dict[str, Any]],
) -> None:
    reader = demo_readers[0]
    abandoned = admin.post(
        "/api/orders", json={"location": demo_location["id"], "currency": "usd", "amount": 700}
    ).raise_for_status()
    order_id = abandoned.json()["id"]
    admin.post(f"/api/orders/{order_id}/payments", json={"reader": reader["id"]}).raise_for_status()

    page = tills.signed_in()
    card = page.locator(f'li[data-reader-id="{reader["id"]}"]')
    expect(card).to_have_attribute("data-state", "busy")
    card.get_by_role("button", name="Clear reader").click()
    card.get_by_role("button", name="Confirm: cancel its payment").click()
    expect(card).to_have_attribute("data-state", "ready")
    order = admin.get(f"/api/orders/{order_id}").raise_for_status().json()
    assert [attempt["status"] for attempt in order["attempts"]] == ["canceled"]


def test_reader_taken_offline_shows_why_and_disables_charge(
    tills: Tills, server: Server, demo_readers: list[dict[str, Any]]
) -> None:
    reader = demo_readers[0]
    page = tills.signed_in()
    select_reader(page, reader["id"])
    key_in_amount(page, "5.00")
    expect(page.locator("#charge")).to_be_enabled()
    set_offline(server, reader["id"], True)
    try:
        card = page.locator(f'li[data-reader-id="{reader["id"]}"]')
        expect(card).to_have_attribute("data-state", "offline")
        expect(page.locator("#charge")).to_be_disabled()
        expect(page.locator("#charge-hint")).to_contain_text("offline")
    finally:
        set_offline(server, reader["id"], False)
    expect(page.locator("#charge")).to_be_enabled()


def test_simulated_reader_panel_exists_only_in_emulator_mode(tills: Tills) -> None:
    page = tills.signed_in()
    expect(page.locator("#simulator")).to_be_visible()

    real = tills.page()
    # The same till against a backend holding a real Stripe key: /api/config says so.
    real.route(
        "**/api/config",
        lambda route: route.fulfill(json={"mode": "live", "simulator": False, "currency": "usd"}),
    )
    real.goto("/")
    real.get_by_label("Operator credential").fill(OPERATOR_CREDENTIAL)
    real.get_by_role("button", name="Sign in").click()
    real.wait_for_url("**/till")
    expect(real.locator("#reader-list li").first).to_be_visible()
    expect(real.locator("#simulator")).to_be_hidden()
    expect(real.get_by_role("button", name="Present card")).to_have_count(0)


def test_till_fits_a_phone_screen(
    tills: Tills, demo_readers: list[dict[str, Any]], screenshot: Screenshot
) -> None:
    page = tills.signed_in(viewport=PHONE)
    add_item(page, "Espresso", 1, "3.00")
    expect(page.locator("#charge")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(page, "till-phone")


def set_offline(server: Server, reader_id: str, offline: bool) -> None:
    """Switch a simulated reader off or on through the emulator's fault controls."""
    verb = "offline" if offline else "online"
    response = httpx.post(f"{server.emulator_url}/_emulator/readers/{reader_id}/{verb}", timeout=10)
    response.raise_for_status()
