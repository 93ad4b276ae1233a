"""`countertop configurations ...`: reader configurations from the command line, straight to Stripe.

    countertop configurations create --name Evenings --reboot-window 2-4 \\
        --tip usd:15%,18%,20% --tip cad:100,200,300 --splashscreen file_123
    countertop configurations assign tmc_123 --location tml_456
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Reader configurations: reboot window, tipping presets, splash screen.")
err = Console(stderr=True)
T = TypeVar("T")

Name = Annotated[str | None, typer.Option(help="A name to recognise it by.")]
Window = Annotated[
    str | None, typer.Option(help="Hours (local to the reader) it may reboot to update: START-END.")
]
Tips = Annotated[
    list[str] | None,
    typer.Option(
        "--tip",
        help="Presets for a currency: usd:15%,18%,20% (percentages) or cad:100,200,300 "
        "(amounts in minor units). Repeatable.",
    ),
]
Splash = Annotated[
    str | None, typer.Option(help="Splash screen: a Stripe File id, or '' to remove.")
]


def _with_gateway(work: Callable[[Any], Awaitable[T]]) -> T:
    from countertop.backend.errors import ApiError
    from countertop.backend.settings import Settings
    from countertop.backend.stripe_gateway import StripeGateway

    settings = Settings()
    if not (settings.stripe_secret_key and settings.stripe_secret_key.get_secret_value()):
        err.print("[red]STRIPE_SECRET_KEY is not set.[/] `countertop doctor` explains.")
        raise typer.Exit(2)

    async def run() -> T:
        gateway = StripeGateway(settings)
        try:
            return await work(gateway)
        finally:
            await gateway.close()

    try:
        return asyncio.run(run())
    except ApiError as error:
        err.print(f"[red]{error.title}:[/] {error.detail}")
        raise typer.Exit(1) from None


def parse_tips(values: list[str]) -> dict[str, dict[str, list[int]]]:
    tipping: dict[str, dict[str, list[int]]] = {}
    for value in values:
        currency, _, presets = value.partition(":")
        items = [p.strip() for p in presets.split(",") if p.strip()]
        if not currency or not items:
            raise typer.BadParameter(f"{value!r}: write usd:15%,18%,20% or cad:100,200,300")
        percent = all(i.endswith("%") for i in items)
        try:
            numbers = [int(i.rstrip("%")) for i in items]
        except ValueError:
            raise typer.BadParameter(f"{value!r}: presets are whole numbers") from None
        tipping[currency.strip()] = {"percentages" if percent else "fixed_amounts": numbers}
    return tipping


def _body(name: str | None, window: str | None, tips: list[str] | None, splash: str | None) -> Any:
    from countertop.backend.reader_configs import ConfigurationIn

    raw: dict[str, Any] = {"name": name, "splashscreen": splash}
    if window is not None:
        start, _, end = window.partition("-")
        if not (start.strip().isdigit() and end.strip().isdigit()):
            raise typer.BadParameter("--reboot-window is START-END in hours, e.g. 2-4")
        raw["reboot_window"] = {"start_hour": int(start), "end_hour": int(end)}
    if tips:
        raw["tipping"] = parse_tips(tips)
    try:
        return ConfigurationIn.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in invalid.errors()
        )
        raise typer.BadParameter(problems) from None


def _show(configs: list[dict[str, Any]], output: str) -> None:
    if output == "json":
        print(json.dumps(configs, indent=2))
        return
    table = Table("id", "name", "reboot window", "tipping", "splash screen", "default")
    for c in configs:
        window = c["reboot_window"]
        table.add_row(
            c["id"],
            c["name"] or "",
            f"{window['start_hour']}-{window['end_hour']}" if window else "",
            json.dumps(c["tipping"]) if c["tipping"] else "",
            c["splashscreen"] or "",
            "yes" if c["is_account_default"] else "",
        )
    Console().print(table)


@app.command("list")
def list_(output: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """The account's reader configurations."""
    from countertop.backend import reader_configs

    _show(_with_gateway(reader_configs.list_configurations), output)


@app.command()
def create(
    name: Name = None,
    reboot_window: Window = None,
    tip: Tips = None,
    splashscreen: Splash = None,
) -> None:
    """Create a configuration; prints it."""
    from countertop.backend import reader_configs

    body = _body(name, reboot_window, tip, splashscreen)
    _show([_with_gateway(lambda g: reader_configs.create_configuration(g, body))], "table")


@app.command()
def update(
    configuration: str,
    name: Name = None,
    reboot_window: Window = None,
    tip: Tips = None,
    splashscreen: Splash = None,
) -> None:
    """Change what is given of a configuration; the rest stays."""
    from countertop.backend import reader_configs

    body = _body(name, reboot_window, tip, splashscreen)
    _show(
        [_with_gateway(lambda g: reader_configs.update_configuration(g, configuration, body))],
        "table",
    )


@app.command()
def assign(
    configuration: Annotated[str, typer.Argument(help="tmc_... or 'default'.")],
    location: Annotated[str, typer.Option(help="The location (tml_...) whose readers use it.")],
) -> None:
    """Make a location's readers use a configuration ('default': the account default)."""
    from countertop.backend import reader_configs

    chosen = None if configuration == "default" else configuration
    done = _with_gateway(lambda g: reader_configs.assign(g, location, chosen))
    Console().print(f"{done['location']} now uses {done['configuration'] or 'the account default'}")


@app.command()
def delete(configuration: str) -> None:
    """Delete a configuration."""
    from countertop.backend import reader_configs

    _with_gateway(lambda g: reader_configs.delete_configuration(g, configuration))
    Console().print(f"Deleted {configuration}")
