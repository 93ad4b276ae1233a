"""The admin screens: end of day (reconciliation) and reader configurations, in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_CREDENTIAL, PHONE, Server, Tills

pytestmark = pytest.mark.e2e
Screenshot = Callable[[Page, str], None]


@pytest.fixture
def emulator(server: Server) -> stripe.StripeClient:
    """Stripe's own library pointed at the server's embedded emulator (any test key works)."""
    return stripe.StripeClient("sk_test_e2e_admin", base_addresses={"api": server.emulator_url})


@pytest.fixture
def uncaptured_orphan(
    emulator: stripe.StripeClient, demo_location: dict[str, Any]
) -> Iterator[str]:
    """A card_present authorization left uncaptured, naming an order that does not exist: as a
    till that crashed after the card was read would leave it. Made on a reader of its own."""
    reader = emulator.v1.terminal.readers.create(
        params={
            "registration_code": "simulated-s700",
            "label": "Back office",
            "location": demo_location["id"],
        }
    )
    try:
        intent = emulator.v1.payment_intents.create(
            params={
                "amount": 1800,  # cents .00: the simulated reader approves it
                "currency": "usd",
                "capture_method": "manual",
                "allowed_payment_method_types": ["card_present"],
                "metadata": {"order_id": "ord_nosuchorder"},
            }
        )
        emulator.v1.terminal.readers.process_payment_intent(
            reader.id, params={"payment_intent": intent.id}
        )
        emulator.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
        assert emulator.v1.payment_intents.retrieve(intent.id).status == "requires_capture"
    finally:
        emulator.v1.terminal.readers.delete(reader.id)
    yield intent.id


def fits_a_phone(page: Page) -> None:
    """On a phone the screen reflows to one column: wide tables scroll, the page does not."""
    page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=f"/tmp/phone-{page.url.rsplit('/', 1)[-1]}.png", full_page=True)
    page.set_viewport_size({"width": 1024, "height": 768})


def test_admin_reconciles_the_day_and_fixes_an_uncaptured_authorization(
    tills: Tills,
    admin: httpx.Client,
    emulator: stripe.StripeClient,
    uncaptured_orphan: str,
    screenshot: Screenshot,
) -> None:
    page = tills.signed_in(ADMIN_CREDENTIAL)
    page.get_by_role("link", name="End of day").click()
    page.wait_for_url("**/end-of-day")
    page.locator("body[data-ready]").wait_for()  # the screen has read the past runs
    page.get_by_role("button", name="Check the day").click()

    finding = page.locator(f'#findings tr[data-payment-intent="{uncaptured_orphan}"]')
    expect(finding).to_contain_text("Payment with no order")
    expect(finding).to_contain_text("$18.00")
    expect(finding).to_contain_text(re.compile(r"\d+ h \d+ min left"))  # before the hold lapses
    expect(finding).to_contain_text("Cancel")
    expect(page.locator("#runs tr")).to_have_count(1)
    screenshot(page, "end-of-day")
    fits_a_phone(page)

    page.get_by_role("button", name="Apply fixes").click()
    action = page.locator(f'#actions tr[data-payment-intent="{uncaptured_orphan}"]')
    expect(action).to_contain_text("Canceled")
    expect(action).to_contain_text("Done")
    assert emulator.v1.payment_intents.retrieve(uncaptured_orphan).status == "canceled"

    page.get_by_role("button", name="Check the day").click()
    expect(page.locator("#report-badge")).to_have_text("All clear")
    expect(page.locator("#report-clean")).to_be_visible()
    expect(page.locator("#runs tr")).to_have_count(3)
    latest = admin.get("/api/reconciliations", params={"limit": 1}).json()["data"][0]
    assert (latest["fix"], latest["status"], latest["discrepancy_count"]) == (False, "done", 0)


def test_admin_creates_a_reader_configuration_and_assigns_it(
    tills: Tills, admin: httpx.Client, demo_location: dict[str, Any], screenshot: Screenshot
) -> None:
    page = tills.signed_in(ADMIN_CREDENTIAL)
    page.get_by_role("link", name="Configurations").click()
    page.wait_for_url("**/reader-configurations")
    page.locator("body[data-ready]").wait_for()
    page.get_by_label("Name").fill("Night updates")
    page.get_by_label("From hour").select_option("2")
    page.get_by_label("To hour").select_option("4")
    page.get_by_label("Smart-tip threshold").fill("10.00")
    page.get_by_label("Fixed amounts").fill("1.00, 2.00, 3.50")
    page.get_by_label("Percentages").fill("15, 18, 20")
    page.get_by_role("button", name="Create configuration").click()

    row = page.locator("#config-rows tr", has_text="Night updates")
    expect(row).to_contain_text("02:00 \u2013 04:00")
    expect(row).to_contain_text("$1.00 · $2.00 · $3.50")
    expect(row).to_contain_text("15% · 18% · 20%")
    config_id = row.get_attribute("data-configuration-id")
    assert config_id and config_id.startswith("tmc_")

    page.get_by_label(f"Configuration for {demo_location['display_name']}").select_option(config_id)
    expect(row).to_contain_text(demo_location["display_name"])
    screenshot(page, "reader-configurations")
    fits_a_phone(page)

    configs = admin.get("/api/reader-configurations").raise_for_status().json()["data"]
    saved = next(c for c in configs if c["id"] == config_id)
    assert saved["name"] == "Night updates"
    assert saved["reboot_window"] == {"start_hour": 2, "end_hour": 4}
    assert saved["tipping"]["usd"] == {
        "fixed_amounts": [100, 200, 350],
        "percentages": [15, 18, 20],
        "smart_tip_threshold": 1000,
    }
    locations = admin.get("/api/locations").raise_for_status().json()["data"]
    assert next(loc for loc in locations if loc["id"] == demo_location["id"])["configuration"] == (
        config_id
    )
    # Back to the account default, so the demo location is as the other tests expect it.
    admin.put(
        f"/api/locations/{demo_location['id']}/configuration", json={"configuration": None}
    ).raise_for_status()


def test_an_operator_sees_neither_admin_screen(tills: Tills) -> None:
    page = tills.signed_in()
    expect(page.locator("#nav-fleet")).to_be_hidden()
    expect(page.locator("#nav-end-of-day")).to_be_hidden()
    expect(page.locator("#nav-configurations")).to_be_hidden()
    page.goto("/end-of-day")
    expect(page.locator("#admin-only")).to_be_visible()
    expect(page.locator("#eod")).to_be_hidden()
    page.goto("/reader-configurations")
    expect(page.locator("#admin-only")).to_be_visible()
    expect(page.locator("#configs")).to_be_hidden()
