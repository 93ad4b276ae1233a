"""``/v1/setup_intents`` and the reader's ``process_setup_intent`` action (saving a card)."""

from __future__ import annotations

from typing import Any

from countertop.emulator import device, objects
from countertop.emulator import params as p
from countertop.emulator.cards import Card
from countertop.emulator.context import Ctx
from countertop.emulator.errors import unexpected_state
from countertop.emulator.ids import new_id, secret_chars
from countertop.emulator.listing import LIST_PARAMS, equal_to, list_page
from countertop.emulator.resources.common import load
from countertop.emulator.resources.readers import find
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

KIND = "setup_intent"
_CREATE = ("payment_method_types", "customer", "description", "metadata", "usage", "on_behalf_of")


def create(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, _CREATE)
    si_id = new_id("seti_")
    types = p.strings(params, "payment_method_types") or ["card"]
    setup: Obj = {
        "id": si_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{si_id}_secret_{secret_chars(25)}",
        "created": ctx.now(),
        "customer": p.text(params, "customer"),
        "description": p.text(params, "description"),
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": p.metadata(None, params.get("metadata")),
        "next_action": None,
        "on_behalf_of": p.text(params, "on_behalf_of"),
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {kind: {} for kind in types},
        "payment_method_types": types,
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": p.choice(params, "usage", ("off_session", "on_session")) or "off_session",
    }
    ctx.account.add("setup_intents", setup)
    ctx.emit("setup_intent.created", setup)
    return setup


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ("client_secret",))
    return load(ctx, "setup_intents", KIND, ctx.args[0], "intent")


def update(ctx: Ctx) -> Obj:
    setup = load(ctx, "setup_intents", KIND, ctx.args[0], "intent")
    p.allowed(ctx.params, ("description", "metadata", "customer"))
    setup["metadata"] = p.metadata(setup["metadata"], ctx.params.get("metadata"))
    for name in ("description", "customer"):
        if name in ctx.params:
            setup[name] = p.text(ctx.params, name) or None
    return ctx.account.changed("setup_intents", setup)


def cancel(ctx: Ctx) -> Obj:
    setup = load(ctx, "setup_intents", KIND, ctx.args[0], "intent")
    p.allowed(ctx.params, ("cancellation_reason",))
    reason = p.choice(
        ctx.params, "cancellation_reason", ("abandoned", "duplicate", "requested_by_customer")
    )
    if setup["status"] in ("succeeded", "canceled"):
        raise unexpected_state(
            f"You cannot cancel this SetupIntent because it has a status of {setup['status']}.",
            "setup_intent_unexpected_state",
        )
    setup["status"] = "canceled"
    setup["cancellation_reason"] = reason
    ctx.emit("setup_intent.canceled", setup)
    return ctx.account.changed("setup_intents", setup)


def list_all(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, (*LIST_PARAMS, "customer", "payment_method", "created"))
    keep = equal_to(ctx.params, ("customer", "payment_method"))
    return list_page(ctx.account, "setup_intents", ctx.params, "/v1/setup_intents", KIND, keep)


def process_setup_intent(ctx: Ctx) -> Obj:
    reader = find(ctx)
    params = ctx.params
    p.allowed(
        params, ("setup_intent", "allow_redisplay", "process_config", "customer_consent_collected")
    )
    setup_id = p.text(params, "setup_intent", required=True) or ""
    setup = load(ctx, "setup_intents", KIND, setup_id, "setup_intent")
    # Older API versions asked for customer_consent_collected; today's for allow_redisplay.
    consent = p.boolean(params, "customer_consent_collected")
    allow_redisplay = p.choice(
        params, "allow_redisplay", ("always", "limited", "unspecified"), required=consent is None
    )
    config = p.mapping(params, "process_config")
    if setup["status"] != "requires_payment_method":
        raise device.invalid_intent("Setup intent")
    details: dict[str, Any] = {"setup_intent": setup["id"]}
    if config is not None:
        p.allowed(config, ("enable_customer_cancellation",), "process_config")
        details["process_config"] = {
            "enable_customer_cancellation": p.boolean(
                config, "enable_customer_cancellation", "process_config"
            )
        }
    ctx.emulator.switches(reader["id"]).allow_redisplay = allow_redisplay or "unspecified"
    return device.start(ctx, reader, device.new_action("process_setup_intent", details))


def complete_on_reader(ctx: Ctx, reader: Obj, action: Obj, card: Card, method_type: str) -> None:
    details = action["process_setup_intent"]
    setup = ctx.account.get("setup_intents", details["setup_intent"])
    if setup is None:
        return
    present = objects.payment_method(ctx, card, method_type)
    if card.decline is not None:
        message = "The latest attempt to set up the payment method has failed because authentication failed."
        error = {
            "type": "invalid_request_error",
            "code": "setup_intent_authentication_failure",
            "message": message,
            "payment_method": present,
        }
        setup["last_setup_error"] = error
        ctx.account.changed("setup_intents", setup)
        ctx.emit("setup_intent.setup_failed", setup)
        device.fail(ctx, reader, action, "setup_intent_authentication_failure", message, error)
        return
    generated = objects.payment_method(ctx, card, "card")
    attempt = new_id("setatt_")
    generated["card"]["generated_from"] = {
        "charge": None,
        "payment_method_details": {"type": method_type, method_type: present[method_type]},
        "setup_attempt": attempt,
    }
    generated["allow_redisplay"] = ctx.emulator.switches(reader["id"]).allow_redisplay
    generated["customer"] = setup["customer"]
    details["generated_card"] = generated["id"]
    setup.update(
        {
            "status": "succeeded",
            "payment_method": present["id"],
            "latest_attempt": attempt,
            "last_setup_error": None,
        }
    )
    ctx.account.changed("setup_intents", setup)
    ctx.emit("setup_intent.succeeded", setup)
    device.succeed(ctx, reader, action)


ROUTES: list[Route] = [
    ("POST", "/v1/setup_intents", create),
    ("GET", "/v1/setup_intents", list_all),
    ("GET", "/v1/setup_intents/{intent}", retrieve),
    ("POST", "/v1/setup_intents/{intent}", update),
    ("POST", "/v1/setup_intents/{intent}/cancel", cancel),
    ("POST", "/v1/terminal/readers/{reader}/process_setup_intent", process_setup_intent),
]
