"""The `countertop` command line: the only place that wires the emulator and the backend together.

The backend never imports the emulator. With no `STRIPE_SECRET_KEY`, `serve` starts the emulator in
this process (its own thread and event loop, on a loopback port) and hands the backend nothing but its
base address and a test key, exactly as it would be configured for Stripe itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from countertop.backend.reader_configs_cli import app as configurations_app

app = typer.Typer(
    help="Countertop: in-person card payments on Stripe Terminal smart readers.",
    no_args_is_help=True,
)
console = Console(stderr=True)
app.add_typer(configurations_app, name="configurations")


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port (12111 is stripe-mock's, so its users need no change).")
    ] = 12111,
    state: Annotated[
        Path | None, typer.Option(help="SQLite file that keeps the state across restarts.")
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option(help="Also deliver events to this URL (repeatable; see --webhook-events)."),
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option(help="Signing secret for --webhook URLs (whsec_...).")
    ] = None,
    webhook_events: Annotated[
        str,
        typer.Option(
            help="Event types sent to --webhook URLs, comma-separated, as `stripe listen "
            "--events` (default: all of them)."
        ),
    ] = "*",
) -> None:
    """Run the Stripe Terminal emulator: a stateful local copy of the Stripe API for Terminal."""
    from countertop.emulator.server import run

    run(
        host=host,
        port=port,
        state_file=state,
        webhook_urls=list(webhook or []),
        webhook_secret=webhook_secret,
        webhook_events=[e.strip() for e in webhook_events.split(",") if e.strip()] or ["*"],
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            envvar="COUNTERTOP_WORKERS",
            help="Worker processes (each one a backend instance; more than one needs "
            "PostgreSQL and a Stripe key).",
        ),
    ] = 1,
) -> None:
    """Run the backend and the POS web app (with the emulator in-process when no Stripe key is set)."""
    from countertop.backend.runner import ServeError, check_workers
    from countertop.backend.runner import serve as serve_backend
    from countertop.backend.settings import Settings

    embedded_mode = not os.environ.get("STRIPE_SECRET_KEY")
    try:
        check_workers(workers, Settings(), embedded_mode)
    except ServeError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None

    overrides: dict[str, str] = {}
    embedded = None
    if not os.environ.get("STRIPE_SECRET_KEY"):
        from countertop.emulator.server import EmulatorServer

        embedded = EmulatorServer(
            host="127.0.0.1", port=int(os.environ.get("COUNTERTOP_EMULATOR_PORT", "0"))
        )
        embedded.start()
        overrides = {
            "STRIPE_SECRET_KEY": embedded.secret_key,
            "STRIPE_API_BASE": embedded.url,
            "COUNTERTOP_EMULATOR": "1",
        }
        console.print(
            f"[bold]No STRIPE_SECRET_KEY set:[/] using the built-in Stripe emulator at {embedded.url}"
        )
    try:
        serve_backend(
            host=host,
            port=port,
            env_overrides=overrides,
            workers=workers,
            embedded=embedded is not None,
        )
    finally:
        if embedded is not None:
            embedded.stop()


@app.command()
def doctor(
    timeout: Annotated[float, typer.Option(help="Seconds allowed for each network probe.")] = 3.0,
    mode: Annotated[
        str | None, typer.Option(help="Fail unless the key is of this mode: test or live.")
    ] = None,
) -> None:
    """Check configuration, database, network to Stripe, webhooks, readers and the stripe library."""
    import asyncio

    from countertop.backend.doctor import diagnose, failed, render
    from countertop.backend.settings import Settings

    checks = asyncio.run(diagnose(Settings(), timeout=timeout, expected_mode=mode))
    render(checks, Console())
    if failed(checks):
        raise typer.Exit(1)


@app.command()
def reconcile(
    day: Annotated[
        str | None, typer.Option("--date", help="Day to reconcile, YYYY-MM-DD (default: today).")
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Capture or cancel what is safe (default: dry run).")
    ] = False,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    tz: Annotated[str, typer.Option(help="Time zone the day is counted in.")] = "UTC",
    settle_minutes: Annotated[
        float, typer.Option(help="Payments younger than this may still be on a reader: skipped.")
    ] = 15,
) -> None:
    """Compare Stripe's PaymentIntents for a day with our orders; with --fix, repair what is safe."""
    from countertop.backend.reconcile_cli import reconcile_command

    raise typer.Exit(reconcile_command(day, fix, output, tz, settle_minutes))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
