"""``/v1/payment_intents``: create, retrieve, update, list, confirm, capture, cancel."""

from __future__ import annotations

from typing import Any

from countertop.emulator import card_not_present, payments
from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid, unexpected_state
from countertop.emulator.ids import new_id, secret_chars
from countertop.emulator.listing import LIST_PARAMS, equal_to, list_page
from countertop.emulator.resources.common import load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

KIND = "payment_intent"
CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
_SIMPLE = (
    "description",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "customer",
    "transfer_group",
    "on_behalf_of",
)
_CREATE = (
    "amount",
    "currency",
    "payment_method_types",
    "allowed_payment_method_types",
    "capture_method",
    "confirmation_method",
    "metadata",
    "payment_method_options",
    "application_fee_amount",
    "setup_future_usage",
    "confirm",
    "payment_method",
    "return_url",
    "automatic_payment_methods",
    "transfer_data",
    "shipping",
    *_SIMPLE,
)
_MINIMUM = {"usd": 50, "cad": 50, "eur": 50, "gbp": 30, "aud": 50}
# From API version 2026-09-30.endive, `payment_method_types` is read-only on PaymentIntents;
# `allowed_payment_method_types` (since 2026-07-29.dahlia) takes its place.
_TYPES_READ_ONLY_SINCE = "2026-09-30"


def _method_types(ctx: Ctx, params: p.Params) -> list[str] | None:
    """The method types asked for, by either parameter the request's API version allows."""
    if "payment_method_types" in params and ctx.api_version[:10] >= _TYPES_READ_ONLY_SINCE:
        raise invalid(
            "The payment_method_types parameter is no longer supported on this API version "
            f"({ctx.api_version}). Use allowed_payment_method_types instead.",
            "payment_method_types",
            "payment_method_types_no_longer_supported",
        )
    return p.strings(params, "allowed_payment_method_types") or p.strings(
        params, "payment_method_types"
    )


def _set_types(pi: Obj, params: p.Params, types: list[str] | None) -> None:
    """Update (or confirm) with new method types: they replace the types and their options."""
    if types:
        pi["payment_method_types"] = types
        pi["payment_method_options"] = _method_options(types, None)
        if "allowed_payment_method_types" in params:
            pi["allowed_payment_method_types"] = types


def _amount(params: p.Params, required: bool) -> int | None:
    return p.integer(params, "amount", required=required, minimum=1, maximum=99999999)


def _method_options(types: list[str], given: p.Params | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for kind in types:
        if kind == "card_present":
            options[kind] = {
                "request_extended_authorization": False,
                "request_incremental_authorization_support": False,
            }
        elif kind == "card":
            options[kind] = {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        else:
            options[kind] = {}
    for kind, value in (given or {}).items():
        if not isinstance(value, dict):
            raise invalid(
                f"Invalid object: payment_method_options[{kind}]", "payment_method_options"
            )
        options.setdefault(kind, {}).update(_decoded(value))
    return options


def _decoded(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        if item in ("true", "false"):
            result[key] = item == "true"
        elif isinstance(item, dict):
            result[key] = _decoded(item)
        else:
            result[key] = item
    return result


def create(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, _CREATE)
    amount = _amount(params, True)
    assert amount is not None
    currency = (p.text(params, "currency", required=True) or "").lower()
    if amount < _MINIMUM.get(currency, 1):
        minimum = _MINIMUM[currency]
        raise invalid(
            f"Amount must be at least {minimum / 100:.2f} {currency}", "amount", "amount_too_small"
        )
    types = _method_types(ctx, params)
    capture_method = p.choice(params, "capture_method", CAPTURE_METHODS) or "automatic"
    pi_id = new_id("pi_")
    allowed = p.strings(params, "allowed_payment_method_types")
    pi: Obj = {
        "id": pi_id,
        "object": "payment_intent",
        "allowed_payment_method_types": allowed,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": p.integer(params, "application_fee_amount", minimum=0),
        "automatic_payment_methods": None
        if types
        else {"allow_redirects": "always", "enabled": True},
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": f"{pi_id}_secret_{secret_chars(25)}",
        "confirmation_method": p.choice(params, "confirmation_method", ("automatic", "manual"))
        or "automatic",
        "created": ctx.now(),
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": p.metadata(None, params.get("metadata")),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": _method_options(
            types or ["card"], p.mapping(params, "payment_method_options")
        ),
        "payment_method_types": types or ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": p.choice(params, "setup_future_usage", ("off_session", "on_session")),
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }
    for name in _SIMPLE:
        if name in params:
            pi[name] = p.text(params, name)
    ctx.account.add("payment_intents", pi)
    ctx.emit("payment_intent.created", pi)
    if p.boolean(params, "confirm"):
        card_not_present.confirm(ctx, pi, params)
    return pi


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ("client_secret",))
    return load(ctx, "payment_intents", KIND, ctx.args[0], "intent")


def _find(ctx: Ctx) -> Obj:
    return load(ctx, "payment_intents", KIND, ctx.args[0], "intent")


def update(ctx: Ctx) -> Obj:
    pi = _find(ctx)
    params = ctx.params
    p.allowed(
        params,
        (
            "amount",
            "currency",
            "payment_method_types",
            "allowed_payment_method_types",
            "capture_method",
            "metadata",
            "payment_method_options",
            "application_fee_amount",
            "setup_future_usage",
            "payment_method",
            "shipping",
            *_SIMPLE,
        ),
    )
    money_fields = {
        "amount",
        "currency",
        "payment_method_types",
        "allowed_payment_method_types",
        "capture_method",
        "payment_method",
        "payment_method_options",
    }
    if money_fields & params.keys() and pi["status"] not in (
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
    ):
        raise unexpected_state(
            f"You cannot update this PaymentIntent because it has a status of {pi['status']}."
        )
    amount = _amount(params, False)
    types = _method_types(ctx, params)
    capture_method = p.choice(params, "capture_method", CAPTURE_METHODS)
    meta = p.metadata(pi["metadata"], params.get("metadata"))
    if amount is not None:
        pi["amount"] = amount
    if "currency" in params:
        pi["currency"] = (p.text(params, "currency") or pi["currency"]).lower()
    _set_types(pi, params, types)
    if "payment_method_options" in params:
        pi["payment_method_options"] = _method_options(
            pi["payment_method_types"], p.mapping(params, "payment_method_options")
        )
    if capture_method is not None:
        pi["capture_method"] = capture_method
    if "application_fee_amount" in params:
        pi["application_fee_amount"] = p.integer(params, "application_fee_amount", minimum=0)
    for name in _SIMPLE:
        if name in params:
            pi[name] = p.text(params, name) or None
    pi["metadata"] = meta
    return ctx.account.changed("payment_intents", pi)


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, (*LIST_PARAMS, "customer", "created"))
    keep = equal_to(params, ("customer",))
    return list_page(ctx.account, "payment_intents", params, "/v1/payment_intents", KIND, keep)


def confirm(ctx: Ctx) -> Obj:
    pi = _find(ctx)
    p.allowed(
        ctx.params,
        (
            "payment_method",
            "return_url",
            "capture_method",
            "payment_method_options",
            "receipt_email",
            "setup_future_usage",
            "shipping",
            # Confirm takes the method types too (payment_method_types until 2026-09-30.endive).
            "payment_method_types",
            "allowed_payment_method_types",
        ),
    )
    capture_method = p.choice(ctx.params, "capture_method", CAPTURE_METHODS)
    types = _method_types(ctx, ctx.params)
    if capture_method is not None:
        pi["capture_method"] = capture_method
    if pi["status"] in ("requires_payment_method", "requires_confirmation"):
        _set_types(pi, ctx.params, types)
    return card_not_present.confirm(ctx, pi, ctx.params)


def capture(ctx: Ctx) -> Obj:
    pi = _find(ctx)
    params = ctx.params
    p.allowed(
        params,
        (
            "amount_to_capture",
            "application_fee_amount",
            "final_capture",
            "metadata",
            "statement_descriptor",
            "statement_descriptor_suffix",
        ),
    )
    if pi["status"] != "requires_capture":
        raise unexpected_state(
            f"This PaymentIntent could not be captured because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be captured: "
            "requires_capture."
        )
    amount = p.integer(params, "amount_to_capture", minimum=1)
    pi["metadata"] = p.metadata(pi["metadata"], params.get("metadata"))
    if "application_fee_amount" in params:
        pi["application_fee_amount"] = p.integer(params, "application_fee_amount", minimum=0)
    return payments.capture(ctx, pi, amount)


def cancel(ctx: Ctx) -> Obj:
    pi = _find(ctx)
    p.allowed(ctx.params, ("cancellation_reason",))
    reason = p.choice(ctx.params, "cancellation_reason", CANCEL_REASONS)
    if pi["status"] not in CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be canceled: "
            f"{', '.join(CANCELABLE)}."
        )
    payments.release(ctx, pi)
    pi["status"] = "canceled"
    pi["canceled_at"] = ctx.now()
    pi["cancellation_reason"] = reason
    pi["amount_capturable"] = 0
    ctx.account.changed("payment_intents", pi)
    ctx.emit("payment_intent.canceled", pi)
    return pi


ROUTES: list[Route] = [
    ("POST", "/v1/payment_intents", create),
    ("GET", "/v1/payment_intents", list_all),
    ("GET", "/v1/payment_intents/{intent}", retrieve),
    ("POST", "/v1/payment_intents/{intent}", update),
    ("POST", "/v1/payment_intents/{intent}/confirm", confirm),
    ("POST", "/v1/payment_intents/{intent}/capture", capture),
    ("POST", "/v1/payment_intents/{intent}/cancel", cancel),
]
