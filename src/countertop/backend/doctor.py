"""`countertop doctor`: why can't this till take a card? Each check says pass or fail and the fix.

Every probe that leaves the process (DNS, HTTPS, PyPI, the Stripe API) has a short timeout and is
injectable, so a machine without a network gets a plain answer within seconds and tests never touch
the network.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from countertop.backend.doctor_probes import Probes, StripeProbe
from countertop.backend.settings import Settings
from countertop.backend.store.db import Database, alembic_config
from countertop.backend.stripe_gateway import WEBHOOK_EVENTS

Status = Literal["pass", "fail", "warn", "skip"]

STRIPE_API = "https://api.stripe.com"
WEBHOOK_PATH = "/webhooks/stripe"
# The events the backend acts on; an endpoint must send all of them (or "*").
REQUIRED_EVENTS = tuple(WEBHOOK_EVENTS)
KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_key(settings: Settings, expected_mode: str | None = None) -> Check:
    if not (settings.stripe_secret_key and settings.stripe_secret_key.get_secret_value()):
        return Check(
            "Stripe secret key",
            "fail",
            "STRIPE_SECRET_KEY is not set (`countertop serve` would run the built-in emulator)",
            "Set STRIPE_SECRET_KEY to the secret key (sk_test_... or sk_live_...) from the "
            "Stripe Dashboard, Developers > API keys.",
        )
    key = settings.stripe_secret_key.get_secret_value()
    if key.startswith(("pk_test_", "pk_live_")):
        return Check(
            "Stripe secret key",
            "fail",
            "STRIPE_SECRET_KEY holds a publishable key; the backend needs the secret key",
            "Use the secret key (sk_...) or a restricted key (rk_...), never the publishable one.",
        )
    if not key.startswith(KEY_PREFIXES):
        return Check(
            "Stripe secret key",
            "fail",
            "STRIPE_SECRET_KEY does not look like a Stripe secret key",
            "Copy the key again from the Stripe Dashboard; it starts with sk_test_ or sk_live_.",
        )
    mode = "live" if "_live_" in key[:8] else "test"
    if expected_mode and mode != expected_mode:
        return Check(
            "Stripe secret key",
            "fail",
            f"a {mode}-mode key is set but {expected_mode} mode was expected",
            f"Set STRIPE_SECRET_KEY to the {expected_mode}-mode secret key.",
        )
    if mode == "live" and settings.stripe_api_base:
        return Check(
            "Stripe secret key",
            "fail",
            f"a live key is sent to {settings.stripe_api_base}, not to Stripe",
            "Unset STRIPE_API_BASE when using a live key.",
        )
    return Check("Stripe secret key", "pass", f"{mode} mode ({key[:8]}...{key[-4:]})")


def check_webhook_secret(settings: Settings) -> Check:
    secret = settings.stripe_webhook_secret
    if secret is None and settings.emulator:
        return Check("Webhook signing secret", "pass", "emulator mode: set when serve registers")
    if secret is None:
        return Check(
            "Webhook signing secret",
            "fail",
            "STRIPE_WEBHOOK_SECRET is not set: webhooks cannot be verified and will be refused",
            "Copy the endpoint's signing secret (whsec_...) from Developers > Webhooks into "
            "STRIPE_WEBHOOK_SECRET.",
        )
    if not secret.get_secret_value().startswith("whsec_"):
        return Check(
            "Webhook signing secret",
            "fail",
            "STRIPE_WEBHOOK_SECRET does not start with whsec_",
            "Use the endpoint's signing secret (whsec_...), not an API key.",
        )
    return Check("Webhook signing secret", "pass", "set")


async def check_database(settings: Settings, timeout: float) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    db = Database(settings.database_url)
    where = db.engine.url.render_as_string(hide_password=True)
    if db.is_sqlite and not _sqlite_file_exists(db):
        await db.dispose()
        return Check(
            "Database",
            "fail",
            f"{where}: the database file does not exist",
            "Check DATABASE_URL, or start `countertop serve` once to create it.",
        )
    try:
        async with asyncio.timeout(timeout), db.engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: set(MigrationContext.configure(sync).get_current_heads())
            )
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc).splitlines()[0]
        return Check(
            "Database",
            "fail",
            f"cannot connect to {where}: {reason}",
            "Check DATABASE_URL, that the server is running and that this host may connect.",
        )
    finally:
        await db.dispose()
    if current != heads:
        have = ", ".join(sorted(current)) or "no schema"
        return Check(
            "Database",
            "fail",
            f"{where} is at {have}, the code needs {', '.join(sorted(heads))}",
            "Start `countertop serve` once (it migrates on start), with one instance first.",
        )
    return Check("Database", "pass", f"{where}, schema up to date")


def _sqlite_file_exists(db: Database) -> bool:
    name = db.engine.url.database or ""
    return name in {"", ":memory:"} or name.startswith("file:") or Path(name).exists()


def api_base(settings: Settings) -> str:
    return (settings.stripe_api_base or STRIPE_API).rstrip("/")


async def check_network(settings: Settings, probes: Probes, timeout: float) -> list[Check]:
    base = api_base(settings)
    host = urlsplit(base).hostname or ""
    try:
        addresses = await asyncio.wait_for(probes.resolve(host), timeout)
    except (OSError, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
        fix = (
            "This machine has no working DNS or no network: check its connection, DNS "
            "servers, and any proxy or firewall between it and the internet."
        )
        return [
            Check("DNS", "fail", f"cannot resolve {host} ({reason}): no network?", fix),
            Check("HTTPS", "skip", f"{host} was not resolved"),
        ]
    dns = Check("DNS", "pass", f"{host} -> {', '.join(addresses[:3])}")
    try:
        status = await asyncio.wait_for(probes.http(base + "/v1/", timeout), timeout + 1)
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        return [
            dns,
            Check(
                "HTTPS",
                "fail",
                f"{base} resolves but does not answer ({reason})",
                "Allow outbound HTTPS (port 443) to api.stripe.com in the firewall or proxy.",
            ),
        ]
    return [dns, Check("HTTPS", "pass", f"{base} answered (HTTP {status})")]


def _endpoint_problem(endpoint: Mapping[str, Any]) -> str | None:
    if endpoint.get("status") != "enabled":
        return "is disabled"
    events = set(endpoint.get("enabled_events") or [])
    if "*" in events:
        return None
    missing = [e for e in REQUIRED_EVENTS if e not in events]
    return f"does not send {', '.join(missing)}" if missing else None


async def check_webhook_endpoint(settings: Settings, stripe: StripeProbe) -> Check:
    wanted = (settings.public_url or "").rstrip("/") + WEBHOOK_PATH
    endpoints = [
        e
        for e in await stripe.list_webhook_endpoints()
        if (
            e.get("url") == wanted
            if settings.public_url
            else str(e.get("url", "")).endswith(WEBHOOK_PATH)
        )
    ]
    fix = (
        f"In the Dashboard (Developers > Webhooks) add an endpoint for {wanted} sending "
        f"{', '.join(REQUIRED_EVENTS)}; put its signing secret in STRIPE_WEBHOOK_SECRET."
    )
    if not endpoints:
        return Check("Webhook endpoint", "fail", f"no endpoint registered for {wanted}", fix)
    problems = [(e, _endpoint_problem(e)) for e in endpoints]
    good = [e for e, problem in problems if problem is None]
    if good:
        return Check("Webhook endpoint", "pass", f"{good[0].get('id')} -> {good[0].get('url')}")
    endpoint, problem = problems[0]
    return Check("Webhook endpoint", "fail", f"{endpoint.get('id')} {problem}", fix)


async def check_readers(settings: Settings, stripe: StripeProbe, probes: Probes) -> Check:
    readers = await stripe.list_readers()
    held = await probes.holds(settings)
    limit = settings.reader_action_timeout_seconds
    offline = [r for r in readers if r.get("status") != "online"]
    stuck = []
    for reader in readers:
        action = reader.get("action") or {}
        if action.get("status") != "in_progress":
            continue
        seconds = held.get(str(reader["id"]))
        if seconds is None or seconds > limit:
            stuck.append(reader)
    if not readers:
        return Check(
            "Readers",
            "warn",
            "no readers registered",
            "Register one: `countertop readers register <code> --location tml_...`.",
        )
    problems: list[str] = []
    fixes: list[str] = []
    if offline:
        problems.append(f"offline: {_names(offline)}")
        fixes.append("Check the offline readers are powered and on a network that reaches Stripe.")
    if stuck:
        problems.append(f"stuck in a payment: {_names(stuck)}")
        fixes.append("Clear a stuck reader from the fleet screen or POST /api/readers/{id}/clear.")
    if problems:
        return Check("Readers", "fail", "; ".join(problems), " ".join(fixes))
    return Check("Readers", "pass", f"{len(readers)} online, none stuck")


def _names(readers: list[Mapping[str, Any]]) -> str:
    return ", ".join(f"{r.get('label') or r['id']} ({r['id']})" for r in readers)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


async def check_library(probes: Probes, timeout: float) -> Check:
    installed = probes.installed("stripe")
    try:
        latest = await asyncio.wait_for(probes.latest_release("stripe", timeout), timeout + 2)
    except (OSError, TimeoutError):
        latest = None
    if latest is None:
        return Check(
            "stripe library",
            "warn",
            f"{installed} installed; PyPI could not be asked (no network to the package index?)",
        )
    if _version_key(installed) < _version_key(latest):
        return Check(
            "stripe library",
            "warn",
            f"{installed} installed, {latest} is the newest release",
            f"Read the changelog, then `pip install 'stripe=={latest}'` and run the tests.",
        )
    return Check("stripe library", "pass", f"{installed} (newest)")


async def diagnose(
    settings: Settings,
    probes: Probes | None = None,
    *,
    timeout: float = 3.0,
    expected_mode: str | None = None,
) -> list[Check]:
    probes = probes or Probes()
    key = check_key(settings, expected_mode)
    database, network, library = await asyncio.gather(
        check_database(settings, timeout),
        check_network(settings, probes, timeout),
        check_library(probes, timeout),
    )
    checks = [key, check_webhook_secret(settings), database, *network]
    blocked = None
    if key.status != "pass":
        blocked = "needs a valid secret key"
    elif any(c.status != "pass" for c in network):
        blocked = "Stripe is not reachable"
    elif probes.stripe is None:
        blocked = "no Stripe client configured"
    if blocked:
        checks += [Check("Webhook endpoint", "skip", blocked), Check("Readers", "skip", blocked)]
    else:
        assert probes.stripe is not None
        stripe = probes.stripe(settings)
        try:
            for name, run in (
                ("Webhook endpoint", lambda: check_webhook_endpoint(settings, stripe)),
                ("Readers", lambda: check_readers(settings, stripe, probes)),
            ):
                try:
                    checks.append(await asyncio.wait_for(run(), timeout * 3))
                except Exception as exc:
                    checks.append(_stripe_failure(name, exc))
        finally:
            close = getattr(stripe, "close", None)
            if close is not None:
                await close()
    checks.append(library)
    return checks


def _stripe_failure(name: str, exc: Exception) -> Check:
    message = str(getattr(exc, "user_message", None) or exc or type(exc).__name__)
    status = getattr(exc, "http_status", None)
    if status == 401:
        return Check(name, "fail", f"Stripe refused the key: {message}", "Roll or re-copy the key.")
    if status == 403:
        return Check(
            name, "fail", f"the key may not do this: {message}", "Grant the restricted key access."
        )
    return Check(name, "fail", f"Stripe call failed: {message}", "Run doctor again shortly.")


def render(checks: Sequence[Check], console: Console) -> None:
    marks = {
        "pass": "[green]pass[/]",
        "fail": "[bold red]FAIL[/]",
        "warn": "[yellow]warn[/]",
        "skip": "[dim]skip[/]",
    }
    table = Table(title="countertop doctor", show_lines=True)
    table.add_column("Check", style="bold", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Detail", overflow="fold")
    table.add_column("Fix", overflow="fold")
    for check in checks:
        table.add_row(check.name, marks[check.status], escape(check.detail), escape(check.fix))
    console.print(table)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        console.print(f"[bold red]{len(failed)} check(s) failed:[/] {', '.join(failed)}")
    else:
        console.print("[green]All checks passed.[/]")


def failed(checks: Sequence[Check]) -> bool:
    return any(c.status == "fail" for c in checks)
