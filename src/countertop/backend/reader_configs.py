"""Reader configurations (Stripe Terminal `terminal.configuration`) and connection tokens.

A configuration holds what a fleet of readers should share: the window in which they may reboot to
update, tipping presets per currency and the splash screen. A location uses one through its
`configuration_overrides`. Connection tokens are only for teams that also run a Terminal SDK app.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from countertop.backend.services.readers import stripe_error
from countertop.backend.stripe_gateway import StripeFailure, StripeGateway

Json = dict[str, Any]
# The smart readers whose configuration carries a splash screen.
DEVICES = ("bbpos_wisepos_e", "stripe_s700", "stripe_s710")
CURRENCY = r"^[a-z]{3}$"


class Tipping(BaseModel):
    """Presets shown on the reader for one currency: up to three amounts or percentages."""

    model_config = ConfigDict(extra="forbid")
    fixed_amounts: list[Annotated[int, Field(ge=0)]] | None = Field(default=None, max_length=3)
    percentages: list[Annotated[int, Field(ge=0, le=100)]] | None = Field(
        default=None, max_length=3
    )
    smart_tip_threshold: int | None = Field(default=None, ge=0)

    def to_stripe(self) -> Json:
        return self.model_dump(exclude_none=True)


class RebootWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=0, le=23)


class ConfigurationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=100)
    reboot_window: RebootWindow | None = None
    tipping: dict[Annotated[str, StringConstraints(pattern=CURRENCY)], Tipping] | None = Field(
        default=None, description="Presets keyed by lowercase currency, e.g. usd."
    )
    splashscreen: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^(file_[A-Za-z0-9]+)?$",
        description="A Stripe File id (purpose terminal_reader_splashscreen); empty to remove.",
    )


def to_stripe(body: ConfigurationIn) -> Json:
    params: Json = {}
    if body.name is not None:
        params["name"] = body.name
    if body.reboot_window is not None:
        params["reboot_window"] = body.reboot_window.model_dump()
    if body.tipping is not None:
        params["tipping"] = {cur: t.to_stripe() for cur, t in body.tipping.items()}
    if body.splashscreen is not None:
        for device in DEVICES:
            params[device] = {"splashscreen": body.splashscreen} if body.splashscreen else ""
    return params


def configuration_json(config: Json) -> Json:
    splash = next(
        ((config.get(d) or {}).get("splashscreen") for d in DEVICES if config.get(d)), None
    )
    return {
        "id": config["id"],
        "name": config.get("name"),
        "is_account_default": bool(config.get("is_account_default")),
        "reboot_window": config.get("reboot_window"),
        "tipping": config.get("tipping"),
        "splashscreen": splash,
    }


async def list_configurations(gateway: StripeGateway) -> list[Json]:
    try:
        return [configuration_json(c) for c in await gateway.list_configurations()]
    except StripeFailure as failure:
        raise stripe_error(failure, "configuration", "*") from None


async def create_configuration(gateway: StripeGateway, body: ConfigurationIn) -> Json:
    try:
        created = await gateway.create_configuration(params=to_stripe(body))
    except StripeFailure as failure:
        raise stripe_error(failure, "configuration", body.name or "new") from None
    return configuration_json(created)


async def update_configuration(
    gateway: StripeGateway, configuration: str, body: ConfigurationIn
) -> Json:
    try:
        updated = await gateway.update_configuration(configuration, params=to_stripe(body))
    except StripeFailure as failure:
        raise stripe_error(failure, "configuration", configuration) from None
    return configuration_json(updated)


async def delete_configuration(gateway: StripeGateway, configuration: str) -> None:
    try:
        await gateway.delete_configuration(configuration)
    except StripeFailure as failure:
        raise stripe_error(failure, "configuration", configuration) from None


async def assign(gateway: StripeGateway, location: str, configuration: str | None) -> Json:
    """Make the location's readers use `configuration` (None: back to the account default)."""
    try:
        updated = await gateway.update_location(
            location, changes={"configuration_overrides": configuration or ""}
        )
    except StripeFailure as failure:
        what, ident = (
            ("configuration", configuration)
            if configuration and "configuration" in failure.message
            else ("location", location)
        )
        raise stripe_error(failure, what, ident) from None
    return {"location": updated["id"], "configuration": updated.get("configuration_overrides")}


async def connection_token(gateway: StripeGateway, location: str) -> Json:
    try:
        token = await gateway.create_connection_token(location=location)
    except StripeFailure as failure:
        raise stripe_error(failure, "location", location) from None
    return {"secret": token["secret"], "location": token.get("location", location)}
