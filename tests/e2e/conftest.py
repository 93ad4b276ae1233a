"""A real `countertop serve` (with its embedded Stripe emulator) and Debian's chromium, for the
browser tests. One server for the whole run; tests keep apart by making their own orders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_CREDENTIAL = "e2e-admin-credential-0123456789"
OPERATOR_CREDENTIAL = "e2e-till-credential-0123456789"
COUNTER = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
# Readers are re-read every few seconds besides the live stream; allow for one or two rounds.
expect.set_options(timeout=20_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    emulator_url: str
    log: Path

    def api(self, credential: str = ADMIN_CREDENTIAL) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {credential}"}, timeout=20
        )


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("countertop")
    running = os.environ.get("COUNTERTOP_E2E_URL")
    if running:
        # Point the tests at a server that is already running (same credentials, emulator mode).
        emulator = os.environ.get("COUNTERTOP_E2E_EMULATOR_URL", running)
        yield Server(url=running, emulator_url=emulator, log=workdir / "server.log")
        return
    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir}/ct.db",
        COUNTERTOP_ADMIN_CREDENTIAL=ADMIN_CREDENTIAL,
        COUNTERTOP_OPERATOR_CREDENTIAL=OPERATOR_CREDENTIAL,
        COUNTERTOP_EMULATOR_PORT=str(emulator_port),
        # Reconcile payments made a moment ago (the default leaves out the last 15 minutes), and
        # only when a test asks.
        COUNTERTOP_RECONCILE_SETTLE_MINUTES="0",
        COUNTERTOP_RECONCILE_AT="off",
    )
    command = Path(sys.executable).parent / "countertop"
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(command), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"countertop serve exited early:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"countertop serve did not become healthy:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
        yield Server(url=url, emulator_url=f"http://127.0.0.1:{emulator_port}", log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Package scope: Playwright's sync API keeps an event loop running in this thread until it
# stops, so it must stop before the async tests of the other packages run.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class Tills:
    """Opens browser pages and records every console error and page error they raise."""

    browser: Browser
    server: Server
    errors: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(self, viewport: dict[str, int] = COUNTER) -> Page:
        context = self.browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            base_url=self.server.url,
            locale="en-US",
            timezone_id="UTC",
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: page error: {error}"))
        return page

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{page.url}: console error: {message.text}")

    def signed_in(
        self, credential: str = OPERATOR_CREDENTIAL, viewport: dict[str, int] = COUNTER
    ) -> Page:
        page = self.page(viewport)
        page.goto("/")
        page.get_by_label("Operator credential").fill(credential)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/till")
        page.locator("#reader-list li, #readers-empty:not([hidden])").first.wait_for()
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def tills(browser: Browser, server: Server) -> Iterator[Tills]:
    tills = Tills(browser=browser, server=server)
    yield tills
    tills.close()
    assert not tills.errors, "the browser reported errors:\n" + "\n".join(tills.errors)


@pytest.fixture
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.api(ADMIN_CREDENTIAL) as client:
        yield client


@pytest.fixture
def demo_location(admin: httpx.Client) -> dict[str, Any]:
    """The location the demo operator credential is scoped to (seeded in emulator mode)."""
    with httpx.Client(
        base_url=str(admin.base_url),
        headers={"Authorization": f"Bearer {OPERATOR_CREDENTIAL}"},
        timeout=20,
    ) as till:
        locations = till.get("/api/locations").raise_for_status().json()["data"]
    assert locations, "the demo operator should see the seeded demo location"
    return dict(locations[0])


@pytest.fixture
def demo_readers(admin: httpx.Client, demo_location: dict[str, Any]) -> list[dict[str, Any]]:
    """The demo location's readers (a simulated S700 and WisePOS E), cleared of leftover actions."""
    readers = admin.get("/api/readers", params={"location": demo_location["id"]}).raise_for_status()
    found: list[dict[str, Any]] = readers.json()["data"]
    for reader in found:
        if reader["busy_order_id"] or reader["action"]:
            admin.post(f"/api/readers/{reader['id']}/clear").raise_for_status()
    assert len(found) >= 2, found
    return sorted(found, key=lambda reader: str(reader["id"]))


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> None:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")

    return save
