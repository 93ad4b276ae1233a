"""``/v1/terminal/readers/{reader}/<action>``: the commands a server-driven integration sends."""

from __future__ import annotations

from typing import Any

from countertop.emulator import device, payments
from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.resources.common import load
from countertop.emulator.resources.readers import find
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

_PROCESS_CONFIG = (
    "allow_redisplay",
    "enable_customer_cancellation",
    "return_url",
    "skip_tipping",
    "tipping",
)


def _config(params: p.Params, name: str, known: tuple[str, ...]) -> dict[str, Any] | None:
    """A config hash with booleans and integers decoded, unknown keys refused."""
    raw = p.mapping(params, name)
    if raw is None:
        return None
    p.allowed(raw, known, name)
    result: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("enable_customer_cancellation", "skip_tipping"):
            result[key] = p.boolean(raw, key, name)
        elif key == "tipping":
            tipping = p.mapping(raw, "tipping", parent=name) or {}
            p.allowed(tipping, ("amount_eligible",), f"{name}[tipping]")
            result[key] = {
                "amount_eligible": p.integer(
                    tipping, "amount_eligible", minimum=0, parent=f"{name}[tipping]"
                )
            }
        else:
            result[key] = value
    return result


def _payment_intent(ctx: Ctx, param: str = "payment_intent") -> Obj:
    intent_id = p.text(ctx.params, param, required=True)
    assert intent_id is not None
    return load(ctx, "payment_intents", "payment_intent", intent_id, param)


def _check_intent(
    pi: Obj, method_types: tuple[str, ...] = ("card_present", "interac_present")
) -> None:
    if pi["status"] != "requires_payment_method":
        raise device.invalid_intent()
    if not any(kind in pi["payment_method_types"] for kind in method_types):
        raise invalid(
            "The PaymentIntent does not accept card_present payments. Create it with "
            "payment_method_types including card_present.",
            "payment_intent",
        )


def _start_payment(ctx: Ctx, action_type: str, config_name: str) -> Obj:
    """Start a payment action (process or collect) with its config."""
    reader = find(ctx)
    p.allowed(ctx.params, ("payment_intent", config_name))
    pi = _payment_intent(ctx)
    config = _config(ctx.params, config_name, _PROCESS_CONFIG)
    _check_intent(pi)
    details: dict[str, Any] = {"payment_intent": pi["id"]}
    if config is not None:
        details[config_name] = config
    return device.start(ctx, reader, device.new_action(action_type, details))


def process_payment_intent(ctx: Ctx) -> Obj:
    return _start_payment(ctx, "process_payment_intent", "process_config")


def collect_payment_method(ctx: Ctx) -> Obj:
    return _start_payment(ctx, "collect_payment_method", "collect_config")


def confirm_payment_intent(ctx: Ctx) -> Obj:
    reader = find(ctx)
    p.allowed(ctx.params, ("payment_intent", "confirm_config"))
    pi = _payment_intent(ctx)
    config = _config(ctx.params, "confirm_config", ("return_url",))
    switches = ctx.emulator.switches(reader["id"])
    action = reader.get("action")
    if (
        action is None
        or action["type"] != "collect_payment_method"
        or action["collect_payment_method"]["payment_intent"] != pi["id"]
        or switches.collected is None
        or pi["status"] != "requires_confirmation"
    ):
        raise device.terminal_error(
            "intent_invalid_state",
            "Payment intent must be in the requires_confirmation state with a payment method "
            "collected on this reader to be confirmed.",
        )
    if switches.offline or reader["status"] == "offline":
        raise device.offline()
    presented = switches.collected
    pm = ctx.account.get("payment_methods", pi["payment_method"])
    details: dict[str, Any] = {"payment_intent": pi["id"]}
    if config is not None:
        details["confirm_config"] = config
    confirm = device.new_action("confirm_payment_intent", details)
    reader["action"] = confirm
    switches.phase = "idle"
    switches.collected = None
    switches.generation += 1
    device.pay(ctx, reader, confirm, pi, presented, pm)
    return ctx.account.changed("readers", reader)


def set_reader_display(ctx: Ctx) -> Obj:
    reader = find(ctx)
    params = ctx.params
    p.allowed(params, ("type", "cart"))
    p.choice(params, "type", ("cart",), required=True)
    cart = p.mapping(params, "cart")
    details: dict[str, Any] = {"type": "cart", "cart": None}
    if cart is not None:
        p.allowed(cart, ("currency", "line_items", "tax", "total"), "cart")
        items = []
        for index, item in enumerate(
            p.array(cart, "line_items", required=True, parent="cart") or []
        ):
            label = f"cart[line_items][{index}]"
            if not isinstance(item, dict):
                raise invalid(f"Invalid object: {label}", label)
            items.append(
                {
                    "amount": p.integer(item, "amount", required=True, parent=label),
                    "description": p.text(item, "description", required=True, parent=label),
                    "quantity": p.integer(item, "quantity", required=True, minimum=1, parent=label),
                }
            )
        details["cart"] = {
            "currency": (p.text(cart, "currency", required=True, parent="cart") or "").lower(),
            "line_items": items,
            "tax": p.integer(cart, "tax", parent="cart"),
            "total": p.integer(cart, "total", required=True, parent="cart"),
        }
    # Acknowledged `in_progress` (as Stripe's example shows); the cart is on screen a moment later.
    action = device.new_action("set_reader_display", details)
    device.start(ctx, reader, action, phase="display")
    generation = ctx.emulator.switches(reader["id"]).generation
    ctx.emulator.call_soon(ctx.emulator.locked(_displayed), ctx, reader["id"], generation)
    return reader


def _displayed(ctx: Ctx, reader_id: str, generation: int) -> None:
    reader = ctx.account.get("readers", reader_id)
    switches = ctx.emulator.readers.get(reader_id)
    if reader is None or switches is None or switches.generation != generation:
        return
    switches.phase = "idle"
    reader["action"]["status"] = "succeeded"
    ctx.account.changed("readers", reader)


def refund_payment(ctx: Ctx) -> Obj:
    reader = find(ctx)
    params = ctx.params
    p.allowed(
        params,
        (
            "payment_intent",
            "charge",
            "amount",
            "metadata",
            "refund_application_fee",
            "reverse_transfer",
            "refund_payment_config",
            "reason",
        ),
    )
    charge = payments.charge_to_refund(
        ctx, p.text(params, "charge"), p.text(params, "payment_intent")
    )
    amount = payments.refundable(ctx, charge, p.integer(params, "amount", minimum=1))
    config = _config(params, "refund_payment_config", ("enable_customer_cancellation",))
    given = {
        "amount": amount,
        "charge": p.text(params, "charge"),
        "metadata": p.metadata(None, params.get("metadata")),
        "payment_intent": p.text(params, "payment_intent"),
        "reason": p.choice(params, "reason", ("duplicate", "fraudulent", "requested_by_customer")),
        "refund_application_fee": p.boolean(params, "refund_application_fee"),
        "reverse_transfer": p.boolean(params, "reverse_transfer"),
    }
    # Stripe shows what was given, the amount, and `refund` once there is one.
    details: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if config is not None:
        details["refund_payment_config"] = config
    return device.start(ctx, reader, device.new_action("refund_payment", details))


def cancel_action(ctx: Ctx) -> Obj:
    reader = find(ctx)
    p.allowed(ctx.params, ())
    switches = ctx.emulator.switches(reader["id"])
    if switches.offline or reader["status"] == "offline":
        raise device.offline()
    if switches.busy or switches.phase == "processing":
        raise device.busy()
    action = reader.get("action")
    if action is not None and action["type"] == "collect_payment_method" and switches.collected:
        pi = ctx.account.get("payment_intents", action["collect_payment_method"]["payment_intent"])
        if pi is not None and pi["status"] == "requires_confirmation":
            pi["status"] = "requires_payment_method"
            pi["payment_method"] = None
            ctx.account.changed("payment_intents", pi)
    switches.phase = "idle"
    switches.collected = None
    switches.generation += 1
    reader["action"] = None
    return ctx.account.changed("readers", reader)


ROUTES: list[Route] = [
    ("POST", f"/v1/terminal/readers/{{reader}}/{name}", handler)
    for name, handler in (
        ("process_payment_intent", process_payment_intent),
        ("collect_payment_method", collect_payment_method),
        ("confirm_payment_intent", confirm_payment_intent),
        ("set_reader_display", set_reader_display),
        ("refund_payment", refund_payment),
        ("cancel_action", cancel_action),
    )
]
