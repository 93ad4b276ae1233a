"""`countertop doctor`: every failure it can report, with the network and Stripe replaced by fakes."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from countertop.backend.doctor import REQUIRED_EVENTS, Check, diagnose, failed, render
from countertop.backend.doctor_probes import Probes, StripeProbe
from countertop.backend.settings import Settings
from countertop.backend.store.db import Database
from tests.backend.stack import Backend

PUBLIC = "https://till.example.com"


class FakeStripe:
    def __init__(
        self,
        endpoints: list[dict[str, Any]] | None = None,
        readers: list[dict[str, Any]] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.endpoints = (
            endpoints
            if endpoints is not None
            else [
                {
                    "id": "we_1",
                    "url": PUBLIC + "/webhooks/stripe",
                    "status": "enabled",
                    "enabled_events": list(REQUIRED_EVENTS),
                }
            ]
        )
        self.readers = (
            readers
            if readers is not None
            else [{"id": "tmr_1", "label": "Front", "status": "online", "action": None}]
        )
        self.error = error

    async def list_webhook_endpoints(self) -> Sequence[Mapping[str, Any]]:
        if self.error:
            raise self.error
        return self.endpoints

    async def list_readers(self) -> Sequence[Mapping[str, Any]]:
        return self.readers


async def resolves(host: str) -> list[str]:
    return ["192.0.2.10"]


async def no_dns(host: str) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


async def answers(url: str, timeout: float) -> int:
    return 401


async def newest(package: str, timeout: float) -> str | None:
    return "16.0.0"


async def no_holds(settings: Settings) -> dict[str, float]:
    return {}


def probes(stripe: StripeProbe | None = None, **kw: Any) -> Probes:
    fake = stripe or FakeStripe()
    defaults: dict[str, Any] = {
        "resolve": resolves,
        "http": answers,
        "latest_release": newest,
        "stripe": lambda settings: fake,
        "holds": no_holds,
        "installed": lambda package: "16.0.0",
    }
    defaults.update(kw)
    return Probes(**defaults)


@pytest.fixture
async def migrated_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    db = Database(url)
    await db.migrate()
    await db.dispose()
    return url


def settings(url: str, **env: Any) -> Settings:
    values: dict[str, Any] = {
        "STRIPE_SECRET_KEY": "sk_test_51abcdefghijklmnop",
        "STRIPE_WEBHOOK_SECRET": "whsec_abc",
        "DATABASE_URL": url,
        "COUNTERTOP_PUBLIC_URL": PUBLIC,
    }
    values.update(env)
    return Settings(_env_file=None, **{k: v for k, v in values.items() if v is not None})  # type: ignore[call-arg]


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_a_healthy_setup_passes_every_check(migrated_url: str) -> None:
    checks = await diagnose(settings(migrated_url), probes())
    assert [(c.name, c.status) for c in checks] == [
        ("Stripe secret key", "pass"),
        ("Webhook signing secret", "pass"),
        ("Database", "pass"),
        ("DNS", "pass"),
        ("HTTPS", "pass"),
        ("Webhook endpoint", "pass"),
        ("Readers", "pass"),
        ("stripe library", "pass"),
    ]
    assert not failed(checks)
    assert "test mode" in checks[0].detail


async def test_no_network_is_said_plainly_and_quickly(migrated_url: str) -> None:
    async def never(*args: Any) -> Any:
        await asyncio.sleep(3600)

    loop = asyncio.get_running_loop()
    began = loop.time()
    checks = by_name(
        await diagnose(
            settings(migrated_url),
            probes(resolve=no_dns, http=never, latest_release=never),
            timeout=0.5,
        )
    )
    assert loop.time() - began < 10  # never hangs: every probe has its own timeout
    assert checks["DNS"].status == "fail"
    assert "cannot resolve api.stripe.com" in checks["DNS"].detail
    assert "no network" in checks["DNS"].detail
    assert "network" in checks["DNS"].fix
    assert checks["HTTPS"].status == "skip"
    assert checks["Webhook endpoint"].status == "skip"
    assert checks["Webhook endpoint"].detail == "Stripe is not reachable"
    assert checks["stripe library"].status == "warn"
    assert "could not be asked" in checks["stripe library"].detail


async def test_dns_that_hangs_is_cut_short(migrated_url: str) -> None:
    async def hangs(host: str) -> list[str]:
        await asyncio.sleep(3600)
        return []

    checks = by_name(await diagnose(settings(migrated_url), probes(resolve=hangs), timeout=0.2))
    assert checks["DNS"].status == "fail" and "timed out" in checks["DNS"].detail


async def test_https_blocked_while_dns_works(migrated_url: str) -> None:
    async def refused(url: str, timeout: float) -> int:
        raise ConnectionRefusedError(111, "Connection refused")

    checks = by_name(await diagnose(settings(migrated_url), probes(http=refused)))
    assert checks["DNS"].status == "pass"
    assert checks["HTTPS"].status == "fail"
    assert "443" in checks["HTTPS"].fix


@pytest.mark.parametrize(
    ("key", "mode", "words"),
    [
        (None, None, "not set"),
        ("", None, "not set"),
        ("pk_test_abc", None, "publishable"),
        ("hello", None, "does not look like"),
        ("sk_test_abcdef", "live", "test-mode key is set but live"),
    ],
)
async def test_missing_or_wrong_key(
    migrated_url: str, key: str | None, mode: str | None, words: str
) -> None:
    checks = await diagnose(
        settings(migrated_url, STRIPE_SECRET_KEY=key), probes(), expected_mode=mode
    )
    named = by_name(checks)
    assert named["Stripe secret key"].status == "fail"
    assert words in named["Stripe secret key"].detail
    assert named["Stripe secret key"].fix
    assert named["Readers"].status == "skip"
    assert failed(checks)


async def test_live_key_pointed_somewhere_other_than_stripe(migrated_url: str) -> None:
    checks = by_name(
        await diagnose(
            settings(
                migrated_url,
                STRIPE_SECRET_KEY="sk_live_abcdef",
                STRIPE_API_BASE="http://127.0.0.1:12111",
            ),
            probes(),
        )
    )
    assert checks["Stripe secret key"].status == "fail"
    assert "STRIPE_API_BASE" in checks["Stripe secret key"].fix


@pytest.mark.parametrize(("secret", "words"), [(None, "not set"), ("sk_test_oops", "whsec_")])
async def test_webhook_secret_missing_or_wrong(
    migrated_url: str, secret: str | None, words: str
) -> None:
    check = by_name(await diagnose(settings(migrated_url, STRIPE_WEBHOOK_SECRET=secret), probes()))[
        "Webhook signing secret"
    ]
    assert check.status == "fail" and words in check.detail


async def test_database_unreachable(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    check = by_name(await diagnose(settings(url), probes(), timeout=2))["Database"]
    assert check.status == "fail"
    assert "cannot connect" in check.detail and "DATABASE_URL" in check.fix


async def test_database_file_missing_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    check = by_name(await diagnose(settings(f"sqlite:///{path}"), probes()))["Database"]
    assert check.status == "fail" and "does not exist" in check.detail
    assert not path.exists()


async def test_database_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    check = by_name(await diagnose(settings(f"sqlite:///{path}"), probes()))["Database"]
    assert check.status == "fail"
    assert "no schema" in check.detail and "migrates" in check.fix


@pytest.mark.parametrize(
    ("endpoints", "words"),
    [
        ([], "no endpoint registered for https://till.example.com/webhooks/stripe"),
        (
            [
                {
                    "id": "we_2",
                    "url": "https://elsewhere.example/webhooks/stripe",
                    "status": "enabled",
                    "enabled_events": ["*"],
                }
            ],
            "no endpoint registered",
        ),
        (
            [
                {
                    "id": "we_3",
                    "url": PUBLIC + "/webhooks/stripe",
                    "status": "disabled",
                    "enabled_events": ["*"],
                }
            ],
            "we_3 is disabled",
        ),
        (
            [
                {
                    "id": "we_4",
                    "url": PUBLIC + "/webhooks/stripe",
                    "status": "enabled",
                    "enabled_events": ["payment_intent.succeeded"],
                }
            ],
            "we_4 does not send terminal.reader.action_succeeded",
        ),
    ],
)
async def test_webhook_endpoint_missing_disabled_or_short_of_events(
    migrated_url: str, endpoints: list[dict[str, Any]], words: str
) -> None:
    check = by_name(
        await diagnose(settings(migrated_url), probes(FakeStripe(endpoints=endpoints)))
    )["Webhook endpoint"]
    assert check.status == "fail"
    assert words in check.detail
    assert "STRIPE_WEBHOOK_SECRET" in check.fix


async def test_endpoint_sending_every_event_passes(migrated_url: str) -> None:
    stripe = FakeStripe(
        endpoints=[
            {
                "id": "we_5",
                "url": PUBLIC + "/webhooks/stripe",
                "status": "enabled",
                "enabled_events": ["*"],
            }
        ]
    )
    assert (
        by_name(await diagnose(settings(migrated_url), probes(stripe)))["Webhook endpoint"].status
        == "pass"
    )


async def test_key_refused_by_stripe(migrated_url: str) -> None:
    class Refused(Exception):
        http_status = 401
        user_message = "Invalid API Key provided: sk_test_****mnop"

    check = by_name(await diagnose(settings(migrated_url), probes(FakeStripe(error=Refused()))))[
        "Webhook endpoint"
    ]
    assert check.status == "fail" and "Stripe refused the key" in check.detail


async def test_offline_and_stuck_readers(migrated_url: str) -> None:
    readers: list[dict[str, Any]] = [
        {"id": "tmr_1", "label": "Front", "status": "online", "action": None},
        {"id": "tmr_2", "label": "Patio", "status": "offline", "action": None},
        {"id": "tmr_3", "label": "Bar", "status": "online", "action": {"status": "in_progress"}},
        {"id": "tmr_4", "label": "Door", "status": "online", "action": {"status": "in_progress"}},
        {"id": "tmr_5", "label": "Back", "status": "online", "action": {"status": "in_progress"}},
    ]

    async def holds(settings: Settings) -> dict[str, float]:
        # Bar has been held for an hour; Door only for a minute; Back has no payment of ours.
        return {"tmr_3": 3600.0, "tmr_4": 60.0}

    check = by_name(
        await diagnose(settings(migrated_url), probes(FakeStripe(readers=readers), holds=holds))
    )["Readers"]
    assert check.status == "fail"
    assert "offline: Patio (tmr_2)" in check.detail
    assert "stuck in a payment: Bar (tmr_3), Back (tmr_5)" in check.detail
    assert "Door" not in check.detail
    assert "clear" in check.fix


async def test_outdated_library_is_a_warning_with_the_upgrade(migrated_url: str) -> None:
    checks = by_name(await diagnose(settings(migrated_url), probes(installed=lambda p: "15.3.1")))
    check = checks["stripe library"]
    assert check.status == "warn"
    assert "15.3.1 installed, 16.0.0 is the newest" in check.detail
    assert "stripe==16.0.0" in check.fix


def test_table_lists_each_failure_with_its_fix() -> None:
    out = io.StringIO()
    checks = [
        Check("DNS", "fail", "cannot resolve api.stripe.com: no network?", "Check the network."),
        Check("Database", "pass", "ok"),
    ]
    render(checks, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "FAIL" in text and "Check the network." in text and "pass" in text
    assert "1 check(s) failed: DNS" in text


@pytest.mark.parametrize(("status", "exit_code"), [("fail", 1), ("warn", 0)])
def test_cli_exit_code_is_non_zero_only_on_failure(
    monkeypatch: pytest.MonkeyPatch, status: str, exit_code: int
) -> None:
    from typer.testing import CliRunner

    from countertop import cli
    from countertop.backend import doctor

    seen: dict[str, Any] = {}

    async def fake_diagnose(settings: Settings, probes: Any = None, **kw: Any) -> list[Check]:
        seen.update(kw)
        return [Check("DNS", status, "cannot resolve api.stripe.com", "Check the network.")]  # type: ignore[arg-type]

    monkeypatch.setattr(doctor, "diagnose", fake_diagnose)
    result = CliRunner().invoke(cli.app, ["doctor", "--timeout", "1.5", "--mode", "live"])
    assert result.exit_code == exit_code, result.output
    assert "cannot resolve api.stripe.com" in result.output
    assert seen == {"timeout": 1.5, "expected_mode": "live"}


async def test_against_a_running_backend_and_the_emulator(backend: Backend) -> None:
    """The real gateway: the endpoint serve registered and the demo readers pass."""
    settings = backend.app.state.settings

    async def loopback(host: str) -> list[str]:
        return ["127.0.0.1"]

    checks = by_name(
        await diagnose(
            settings,
            Probes(resolve=loopback, latest_release=newest, installed=lambda p: "16.0.0"),
        )
    )
    assert {name: c.status for name, c in checks.items()} == {
        "Stripe secret key": "pass",
        "Webhook signing secret": "pass",
        "Database": "pass",
        "DNS": "pass",
        "HTTPS": "pass",
        "Webhook endpoint": "pass",
        "Readers": "pass",
        "stripe library": "pass",
    }, checks
    assert "/webhooks/stripe" in checks["Webhook endpoint"].detail
