"""What an operator does on the till, as browser steps, and the same through the API for set-up."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Page, expect

VISA = "4242424242424242"
INSUFFICIENT_FUNDS = "4000000000009995"


def select_reader(page: Page, reader_id: str) -> None:
    page.locator(f'li[data-reader-id="{reader_id}"] .reader-pick').click()
    expect(page.locator(f'li[data-reader-id="{reader_id}"]')).to_have_class("reader selected")


def add_item(page: Page, description: str, quantity: int, price: str) -> None:
    page.get_by_label("Item", exact=True).fill(description)
    page.get_by_label("Qty").fill(str(quantity))
    page.get_by_label("Price").fill(price)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#cart-lines")).to_contain_text(description)


def key_in_amount(page: Page, amount: str) -> None:
    page.get_by_role("button", name="Amount", exact=True).click()
    page.get_by_label("Amount to charge").fill(amount)


def charge(page: Page) -> None:
    button = page.locator("#charge")
    expect(button).to_be_enabled()
    button.click()
    expect_state(page, "waiting")


def expect_state(page: Page, state: str) -> None:
    expect(page.locator("#payment-state")).to_have_attribute("data-state", state)


def present_card(page: Page, card_number: str, tip: str = "") -> None:
    page.locator("#sim-card").select_option(card_number)
    page.get_by_label("Tip", exact=True).fill(tip)
    page.get_by_role("button", name="Present card").click()


def current_order_id(page: Page) -> str:
    link = page.locator("#order-ref a")
    expect(link).to_have_count(1)
    return str(link.inner_text())


def wait_for_order(
    api: httpx.Client, order_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = api.get(f"/api/orders/{order_id}").raise_for_status().json()
        if order["status"] in statuses or time.monotonic() > deadline:
            return order
        time.sleep(0.3)


def paid_order(api: httpx.Client, location: str, reader: str, amount: int) -> dict[str, Any]:
    """A sale paid through the API alone (what another till would have done)."""
    order = api.post(
        "/api/orders",
        json={
            "location": location,
            "currency": "usd",
            "line_items": [{"description": "Gift box", "quantity": 1, "unit_amount": amount}],
            "tax": 0,
        },
    ).raise_for_status()
    order_id = order.json()["id"]
    api.post(f"/api/orders/{order_id}/payments", json={"reader": reader}).raise_for_status()
    api.post(
        f"/api/readers/{reader}/simulate", json={"card_number": VISA, "type": "card_present"}
    ).raise_for_status()
    paid = wait_for_order(api, order_id, {"paid"})
    assert paid["status"] == "paid", paid
    return paid
