"""`countertop reconcile`: run reconciliation from the command line with a progress bar."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from countertop.backend import reconcile, reconcile_report
from countertop.backend.settings import Settings
from countertop.backend.stripe_gateway import StripeFailure

FORMATS = ("table", "json", "csv")


def reconcile_command(
    day: str | None, fix: bool, output: str, tz_name: str, settle_minutes: float = 15
) -> int:
    """Exit status: 0 when nothing is left to look at, 1 when something is, 2 on bad usage."""
    err = Console(stderr=True)
    if output not in FORMATS:
        err.print(f"[red]--format must be one of {', '.join(FORMATS)}[/]")
        return 2
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        err.print(f"[red]Unknown time zone {tz_name!r}[/]")
        return 2
    try:
        when = date.fromisoformat(day) if day else datetime.now(tz).date()
    except ValueError:
        err.print(f"[red]--date must be YYYY-MM-DD, not {day!r}[/]")
        return 2
    settings = Settings()
    if not (settings.stripe_secret_key and settings.stripe_secret_key.get_secret_value()):
        err.print(
            "[red]STRIPE_SECRET_KEY is not set.[/] Reconciliation reads Stripe; set the key "
            "(and STRIPE_API_BASE for an emulator) first. `countertop doctor` explains."
        )
        return 2
    try:
        window = reconcile.Window.day(when, tz)
        run = asyncio.run(_run(settings, window, fix, int(settle_minutes * 60), err))
    except StripeFailure as failure:
        err.print(f"[red]Stripe could not be read:[/] {failure}")
        return 1
    if output == "table" and run.report.clean:
        Console().print(reconcile_report.summary(run), soft_wrap=True)
    elif output == "table":
        Console().print(reconcile_report.as_table(run))
    elif output == "json":
        print(reconcile_report.as_json(run))
    else:
        print(reconcile_report.as_csv(run), end="")
    return 1 if reconcile_report.needs_attention(run) else 0


async def _run(
    settings: Settings, window: reconcile.Window, fix: bool, settle: int, err: Console
) -> reconcile.Run:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        reading = bar.add_task("Reading PaymentIntents", total=None)
        fixing = bar.add_task("Applying fixes", total=0, visible=False)
        progress = reconcile.Progress(
            fetched=lambda n: bar.update(reading, completed=n),
            fixing=lambda total: bar.update(fixing, total=total, visible=True),
            fixed=lambda: bar.advance(fixing),
        )
        async with reconcile.standalone(settings) as svc:
            return await reconcile.run(
                svc, window, fix=fix, progress=progress, settle_seconds=settle
            )
