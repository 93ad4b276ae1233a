"""``/v1/terminal/configurations`` (CRUD) and ``/v1/terminal/connection_tokens``."""

from __future__ import annotations

from typing import Any

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.ids import new_id, secret_chars
from countertop.emulator.listing import LIST_PARAMS, list_page
from countertop.emulator.resources.common import deleted, load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

KIND = "terminal.configuration"
_DEVICE_SETTINGS = (
    "bbpos_wisepos_e",
    "stripe_s700",
    "stripe_s710",
    "verifone_p400",
    "verifone_m425",
    "verifone_p630",
    "verifone_ux700",
    "verifone_v660p",
)
_SETTINGS = ("tipping", "reboot_window", "offline", "wifi", "cellular", *_DEVICE_SETTINGS)


def _typed(value: Any) -> Any:
    """Configuration values with Stripe's types: integers, booleans, lists."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    if value in ("true", "false"):
        return value == "true"
    if isinstance(value, str) and p.is_integer(value):
        return int(value)
    return value


def _apply(config: Obj, params: p.Params) -> None:
    if "name" in params:
        config["name"] = p.text(params, "name", max_length=100) or None
    for name in _SETTINGS:
        if name not in params:
            continue
        value = params[name]
        if value == "":
            config.pop(name, None)
            continue
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {name}", name)
        if name == "reboot_window":
            start = p.integer(
                value, "start_hour", required=True, minimum=0, maximum=23, parent=name
            )
            end = p.integer(value, "end_hour", required=True, minimum=0, maximum=23, parent=name)
            config[name] = {"start_hour": start, "end_hour": end}
        elif name in _DEVICE_SETTINGS:
            config[name] = {"splashscreen": value.get("splashscreen") or None}
        else:
            config[name] = _typed(value)


def create(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ("name", *_SETTINGS))
    config: Obj = {
        "id": new_id("tmc_"),
        "object": "terminal.configuration",
        "is_account_default": False,
        "livemode": False,
        "name": None,
    }
    _apply(config, ctx.params)
    return ctx.account.add("configurations", config)


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "configurations", KIND, ctx.args[0], "configuration")


def update(ctx: Ctx) -> Obj:
    config = load(ctx, "configurations", KIND, ctx.args[0], "configuration")
    p.allowed(ctx.params, ("name", *_SETTINGS))
    _apply(config, ctx.params)
    return ctx.account.changed("configurations", config)


def delete(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    config = load(ctx, "configurations", KIND, ctx.args[0], "configuration")
    ctx.account.remove("configurations", config["id"])
    return deleted(config)


def list_all(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, (*LIST_PARAMS, "is_account_default"))
    default = p.boolean(ctx.params, "is_account_default")
    keep = None
    if default is not None:

        def keep(config: Obj) -> bool:
            return bool(config["is_account_default"]) == default

    return list_page(
        ctx.account, "configurations", ctx.params, "/v1/terminal/configurations", KIND, keep
    )


def connection_token(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ("location",))
    location = p.text(ctx.params, "location")
    token: Obj = {"object": "terminal.connection_token", "secret": "pst_test_" + secret_chars(40)}
    if location:
        load(ctx, "locations", "terminal.location", location, "location")
        token["location"] = location
    return token


ROUTES: list[Route] = [
    ("POST", "/v1/terminal/configurations", create),
    ("GET", "/v1/terminal/configurations", list_all),
    ("GET", "/v1/terminal/configurations/{configuration}", retrieve),
    ("POST", "/v1/terminal/configurations/{configuration}", update),
    ("DELETE", "/v1/terminal/configurations/{configuration}", delete),
    ("POST", "/v1/terminal/connection_tokens", connection_token),
]
