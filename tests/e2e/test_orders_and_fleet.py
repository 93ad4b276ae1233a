"""Orders, refunds, fleet management and location scoping in a real browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_CREDENTIAL, Server, Tills
from tests.e2e.till_actions import paid_order, wait_for_order

pytestmark = pytest.mark.e2e
Screenshot = Callable[[Page, str], None]


def test_partial_refund_from_the_orders_screen(
    tills: Tills,
    admin: httpx.Client,
    demo_location: dict[str, Any],
    demo_readers: list[dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    order = paid_order(admin, demo_location["id"], demo_readers[0]["id"], 4200)
    page = tills.signed_in()
    page.get_by_role("link", name="Orders").click()
    page.wait_for_url("**/orders")
    row = page.locator(f'tr[data-order-id="{order["id"]}"]')
    expect(row).to_contain_text("Paid")
    expect(row).to_contain_text("$42.00")
    expect(row).to_contain_text("•••• 4242")
    screenshot(page, "orders")

    row.get_by_role("link").click()
    page.wait_for_url(f"**/orders/{order['id']}")
    expect(page.locator("#attempts-body")).to_contain_text(order["attempts"][0]["payment_intent"])
    expect(page.locator("#history-body tr").first).to_be_visible()
    page.get_by_label("Amount to refund").fill("12.50")
    expect(page.locator("#refund-submit")).to_have_text("Refund $12.50")
    page.locator("#refund-submit").click()
    expect(page.locator("#order-status")).to_have_text("Partly refunded")
    expect(page.locator("#order-facts")).to_contain_text("$12.50")
    screenshot(page, "order-detail")
    receipt = page.request.get(str(page.locator("#receipt-link").get_attribute("href")))
    assert receipt.ok
    assert "4242" in receipt.text()

    refunded = wait_for_order(admin, order["id"], {"partially_refunded"})
    assert refunded["status"] == "partially_refunded"
    assert refunded["amount_refunded"] == 1250


def test_an_interac_refund_asks_for_the_card_on_the_reader(
    tills: Tills,
    admin: httpx.Client,
    demo_location: dict[str, Any],
    demo_readers: list[dict[str, Any]],
) -> None:
    reader = demo_readers[0]["id"]
    order = admin.post(
        "/api/orders",
        json={"location": demo_location["id"], "currency": "cad", "amount": 3000},
    ).raise_for_status()
    order_id = order.json()["id"]
    admin.post(f"/api/orders/{order_id}/payments", json={"reader": reader}).raise_for_status()
    admin.post(
        f"/api/readers/{reader}/simulate", json={"type": "interac_present"}
    ).raise_for_status()
    assert wait_for_order(admin, order_id, {"paid"})["status"] == "paid"

    page = tills.signed_in()
    page.goto(f"/orders/{order_id}")
    expect(page.locator("#refund-note")).to_contain_text("Interac")
    expect(page.get_by_label("Reader for the customer's card")).to_have_value(reader)
    page.get_by_label("Amount to refund").fill("10.00")
    expect(page.locator("#refund-submit")).to_have_text("Refund CA$10.00 on the reader")
    page.locator("#refund-submit").click()
    expect(page.locator("#refund-waiting")).to_contain_text("same Interac card")
    admin.post(
        f"/api/readers/{reader}/simulate", json={"type": "interac_present"}
    ).raise_for_status()
    expect(page.locator("#order-status")).to_have_text("Partly refunded")
    expect(page.locator("#refund-waiting")).to_be_hidden()
    refunded = wait_for_order(admin, order_id, {"partially_refunded"})
    assert refunded["amount_refunded"] == 1000


def test_admin_registers_a_reader_that_appears_on_an_open_till(
    tills: Tills, admin: httpx.Client, demo_location: dict[str, Any], screenshot: Screenshot
) -> None:
    till = tills.signed_in()
    before = till.locator("#reader-list li").count()

    fleet = tills.signed_in(ADMIN_CREDENTIAL)
    fleet.get_by_role("link", name="Fleet").click()
    fleet.wait_for_url("**/fleet")
    fleet.get_by_label("Registration code").fill("simulated-wpe")
    fleet.get_by_label("Label").fill("Patio reader")
    fleet.locator("#reg-location").select_option(demo_location["id"])
    fleet.get_by_role("button", name="Register reader").click()
    expect(fleet.locator("#fleet-readers")).to_contain_text("Patio reader")
    screenshot(fleet, "fleet")

    # The till that was already open learns of it without a reload.
    expect(till.locator("#reader-list")).to_contain_text("Patio reader")
    expect(till.locator("#reader-list li")).to_have_count(before + 1)

    # Renamed in the fleet screen, the till shows the new label; removed, it drops the reader.
    row = fleet.locator("#fleet-readers tr", has_text="Patio reader")
    row.get_by_role("button", name="Rename").click()
    fleet.get_by_label("New label").fill("Terrace reader")
    fleet.get_by_label("New label").press("Enter")
    expect(fleet.locator("#fleet-readers")).to_contain_text("Terrace reader")
    expect(till.locator("#reader-list")).to_contain_text("Terrace reader")
    row = fleet.locator("#fleet-readers tr", has_text="Terrace reader")
    row.get_by_role("button", name="Remove").click()
    row.get_by_role("button", name="Confirm remove").click()
    expect(fleet.locator("#fleet-readers")).not_to_contain_text("Terrace reader")
    expect(till.locator("#reader-list li")).to_have_count(before)
    readers = admin.get("/api/readers", params={"location": demo_location["id"]}).json()["data"]
    assert "Terrace reader" not in [reader["label"] for reader in readers]


def test_admin_creates_and_edits_a_location(tills: Tills, admin: httpx.Client) -> None:
    fleet = tills.signed_in(ADMIN_CREDENTIAL)
    fleet.goto("/fleet")
    fleet.get_by_label("Name").fill("Airport kiosk")
    fleet.get_by_label("Street").fill("2 Terminal Way")
    fleet.get_by_label("City").fill("Boston")
    fleet.get_by_label("State").fill("MA")
    fleet.get_by_label("Postal code").fill("02128")
    fleet.get_by_role("button", name="Create location").click()
    entry = fleet.locator("#fleet-locations li", has_text="Airport kiosk")
    expect(entry).to_contain_text("2 Terminal Way, Boston, MA, 02128, US")

    entry.get_by_role("button", name="Edit").click()
    fleet.get_by_label("Name").fill("Airport kiosk B")
    fleet.get_by_role("button", name="Save location").click()
    expect(fleet.locator("#fleet-locations")).to_contain_text("Airport kiosk B")
    names = [loc["display_name"] for loc in admin.get("/api/locations").json()["data"]]
    assert "Airport kiosk B" in names
    assert "Airport kiosk" not in names


def test_a_location_credential_sees_only_its_own_readers(
    tills: Tills,
    server: Server,
    admin: httpx.Client,
    demo_location: dict[str, Any],
    demo_readers: list[dict[str, Any]],
) -> None:
    other = (
        admin.post(
            "/api/locations",
            json={
                "display_name": "Harbour kiosk",
                "address": {
                    "line1": "1 Pier Road",
                    "city": "Portland",
                    "state": "ME",
                    "postal_code": "04101",
                    "country": "US",
                },
            },
        )
        .raise_for_status()
        .json()
    )
    kiosk_reader = (
        admin.post(
            "/api/readers",
            json={
                "registration_code": "simulated-s700",
                "label": "Kiosk S700",
                "location": other["id"],
            },
        )
        .raise_for_status()
        .json()
    )
    operator = (
        admin.post(
            "/api/operators",
            json={"name": "Kiosk till", "role": "operator", "locations": [other["id"]]},
        )
        .raise_for_status()
        .json()
    )

    page = tills.signed_in(operator["credential"])
    readers = page.locator("#reader-list")
    expect(readers).to_contain_text("Kiosk S700")
    for reader in demo_readers:
        expect(page.locator(f'li[data-reader-id="{reader["id"]}"]')).to_have_count(0)
    expect(page.locator("#nav-fleet")).to_be_hidden()

    with server.api(operator["credential"]) as kiosk:
        listed = kiosk.get("/api/readers", params={"location": demo_location["id"]})
        assert listed.status_code == 403
        assert listed.json()["code"] == "forbidden_location"
        own = kiosk.get("/api/readers", params={"location": other["id"]}).json()["data"]
        assert [r["id"] for r in own] == [kiosk_reader["id"]]
