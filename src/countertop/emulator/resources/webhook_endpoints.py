"""``/v1/webhook_endpoints``: where events are delivered; create returns the signing secret once."""

from __future__ import annotations

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.ids import new_id, secret_chars
from countertop.emulator.listing import LIST_PARAMS, list_page
from countertop.emulator.resources.common import deleted, load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

KIND = "webhook_endpoint"


def _url(params: p.Params, required: bool) -> str | None:
    url = p.text(params, "url", required=required)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid("Invalid URL: must start with http:// or https://", "url", "url_invalid")
    return url


def _events(params: p.Params, required: bool) -> list[str] | None:
    events = p.strings(params, "enabled_events", required=required)
    if events is not None and not events:
        raise invalid("enabled_events must not be empty.", "enabled_events")
    return events


def create(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(
        params, ("url", "enabled_events", "description", "metadata", "api_version", "connect")
    )
    url = _url(params, True)
    events = _events(params, True)
    connect = bool(p.boolean(params, "connect"))
    endpoint: Obj = {
        "id": new_id("we_"),
        "object": "webhook_endpoint",
        "api_version": p.text(params, "api_version"),
        "application": None,
        "created": ctx.now(),
        "description": p.text(params, "description"),
        "enabled_events": events,
        "livemode": False,
        "metadata": p.metadata(None, params.get("metadata")),
        "status": "enabled",
        "url": url,
    }
    secret = "whsec_" + secret_chars(32)
    ctx.account.add("webhook_endpoints", endpoint)
    ctx.account.add("webhook_secrets", {"id": endpoint["id"], "secret": secret, "connect": connect})
    return {**endpoint, "secret": secret}


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "webhook_endpoints", KIND, ctx.args[0], "webhook_endpoint")


def update(ctx: Ctx) -> Obj:
    endpoint = load(ctx, "webhook_endpoints", KIND, ctx.args[0], "webhook_endpoint")
    params = ctx.params
    p.allowed(params, ("url", "enabled_events", "description", "metadata", "disabled"))
    url = _url(params, False)
    events = _events(params, False)
    disabled = p.boolean(params, "disabled")
    meta = p.metadata(endpoint["metadata"], params.get("metadata"))
    if url is not None:
        endpoint["url"] = url
    if events is not None:
        endpoint["enabled_events"] = events
    if "description" in params:
        endpoint["description"] = p.text(params, "description") or None
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    endpoint["metadata"] = meta
    return ctx.account.changed("webhook_endpoints", endpoint)


def delete(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    endpoint = load(ctx, "webhook_endpoints", KIND, ctx.args[0], "webhook_endpoint")
    ctx.account.remove("webhook_endpoints", endpoint["id"])
    ctx.account.remove("webhook_secrets", endpoint["id"])
    return deleted(endpoint)


def list_all(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, LIST_PARAMS)
    return list_page(ctx.account, "webhook_endpoints", ctx.params, "/v1/webhook_endpoints", KIND)


ROUTES: list[Route] = [
    ("POST", "/v1/webhook_endpoints", create),
    ("GET", "/v1/webhook_endpoints", list_all),
    ("GET", "/v1/webhook_endpoints/{id}", retrieve),
    ("POST", "/v1/webhook_endpoints/{id}", update),
    ("DELETE", "/v1/webhook_endpoints/{id}", delete),
]
