"""`countertop serve --workers N`: several worker processes, each a backend instance.

Refused where several instances cannot work (no key, emulator mode, no webhook secret, SQLite);
on PostgreSQL a sale started on one worker is paid, whichever worker Stripe's webhooks reach,
and a live stream on any worker sees it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from countertop.cli import app
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, start, wait_order
from tests.backend.sse_support import open_stream
from tests.backend.stack import ADMIN, OPERATOR, bearer
from tests.conftest import fresh_database

COUNTERTOP = Path(sys.executable).with_name("countertop")


def run_serve(env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env=env)
    return result.exit_code, result.output


def test_several_workers_need_a_stripe_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    code, output = run_serve({"DATABASE_URL": "postgresql+asyncpg://db/countertop"})
    assert code == 2
    assert "STRIPE_SECRET_KEY" in output


def test_several_workers_need_the_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    code, output = run_serve(
        {"STRIPE_SECRET_KEY": "sk_test_x", "DATABASE_URL": "postgresql+asyncpg://db/countertop"}
    )
    assert code == 2
    assert "STRIPE_WEBHOOK_SECRET" in output


def test_several_workers_need_postgresql() -> None:
    code, output = run_serve(
        {
            "STRIPE_SECRET_KEY": "sk_test_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "DATABASE_URL": "sqlite+aiosqlite:///countertop.db",
        }
    )
    assert code == 2
    assert "PostgreSQL" in output


def workers(pid: int) -> list[int]:
    """The worker processes `pid` started (Linux; multiprocessing's own helpers left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
                continue
            if b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"not serving: {log.read_text()}")


@pytest.mark.postgres
async def test_two_workers_take_a_sale_to_paid(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = "whsec_" + secrets.token_hex(16)
    emulator = EmulatorServer(webhook_urls=[f"{url}/webhooks/stripe"], webhook_secret=secret)
    emulator.start()
    log = tmp_path / "serve.log"
    try:
        async with fresh_database("postgres", tmp_path) as database_url:
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "STRIPE_SECRET_KEY": emulator.secret_key,
                "STRIPE_API_BASE": emulator.url,
                "STRIPE_WEBHOOK_SECRET": secret,
                "COUNTERTOP_PUBLIC_URL": url,
                "COUNTERTOP_ADMIN_CREDENTIAL": ADMIN,
                "COUNTERTOP_OPERATOR_CREDENTIAL": OPERATOR,
                "COUNTERTOP_LOG_LEVEL": "WARNING",
            }
            env.pop("COUNTERTOP_EMULATOR", None)
            with log.open("wb") as out:
                serve = subprocess.Popen(
                    [str(COUNTERTOP), "serve", "--port", str(port), "--workers", "2"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                await wait_serving(url, serve, log)
                assert len(workers(serve.pid)) == 2
                await sell_once(url, emulator)
            finally:
                os.killpg(serve.pid, signal.SIGTERM)
                serve.wait(30)
    finally:
        emulator.stop()


async def sell_once(url: str, emulator: EmulatorServer) -> None:
    address = {"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701",
               "country": "US"}  # fmt: skip
    async with httpx.AsyncClient(base_url=url, headers=bearer(ADMIN), timeout=30) as http:
        created = await http.post(
            "/api/locations", json={"display_name": "Two", "address": address}
        )
        assert created.status_code == 201, created.text
        location = created.json()["id"]
        registered = await http.post(
            "/api/readers",
            json={"registration_code": "simulated-wpe", "label": "Till", "location": location},
        )
        assert registered.status_code == 201, registered.text
        reader = registered.json()["id"]
        async with httpx.AsyncClient(base_url=emulator.url) as controls:
            answer = await controls.post(
                f"/_emulator/readers/{reader}/auto_present", json={"after_ms": 200}
            )
            assert answer.status_code == 200, answer.text
        async with open_stream(http, f"/api/locations/{location}/events", {}) as stream:
            order = await create_order(http, location, amount=1250)
            await start(http, order["id"], reader)
            paid = await wait_order(http, order["id"], "paid", timeout=30)
            while True:
                event, data = await stream.event(timeout=20)
                if event == "order" and data["id"] == order["id"] and data["status"] == "paid":
                    break
    assert paid["amount_captured"] == 1250
    assert [a["status"] for a in paid["attempts"]] == ["captured"]
