"""The simulated reader: whether it takes a command, and how its action ends.

A started action waits for a card (``present_payment_method`` or an automatic presentation).
Once a card is presented the action finishes at once, or after the configured action delay, with
the charge, refund or setup it stands for, and a ``terminal.reader.action_*`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from countertop.emulator import cards, payments
from countertop.emulator.cards import Card
from countertop.emulator.context import Ctx
from countertop.emulator.errors import StripeError, invalid
from countertop.emulator.store import Obj

GUIDE = (
    "Please reference the integration guide at https://stripe.com/docs/terminal/payments/"
    "collect-card-payment?terminal-sdk-platform=server-driven#handle-errors for details on how "
    "to handle this error."
)


def terminal_error(code: str, message: str) -> StripeError:
    return invalid(message, None, code)


def busy() -> StripeError:
    return terminal_error(
        "terminal_reader_busy", f"Reader is currently busy processing another request. {GUIDE}"
    )


def offline() -> StripeError:
    return terminal_error(
        "terminal_reader_offline",
        "Reader is currently offline, please ensure the reader is powered on and connected to "
        f"the internet before retrying your request. {GUIDE}",
    )


def timeout() -> StripeError:
    return terminal_error(
        "terminal_reader_timeout",
        f"There was a timeout when sending this command to the reader. {GUIDE}",
    )


def invalid_intent(kind: str = "Payment intent") -> StripeError:
    return terminal_error(
        "intent_invalid_state",
        f"{kind} must be in the requires_payment_method state to be processed by a reader.",
    )


@dataclass(frozen=True)
class Presented:
    """A card presented on the reader: which test card, as which method type, with what tip."""

    card: Card
    method_type: str
    tip: int | None = None

    def with_tip(self, tip: int | None) -> Presented:
        return replace(self, tip=tip)


def new_action(action_type: str, details: dict[str, Any], status: str = "in_progress") -> Obj:
    return {
        "api_error": None,
        "failure_code": None,
        "failure_message": None,
        "status": status,
        "type": action_type,
        action_type: details,
    }


def start(ctx: Ctx, reader: Obj, action: Obj, phase: str = "waiting") -> Obj:
    """Hand ``action`` to the reader if it takes commands now; returns the reader.

    Raises the reader errors Stripe answers: offline, busy, timeout (which, as a false negative,
    may still start the action).
    """
    switches = ctx.emulator.switches(reader["id"])
    if switches.offline or reader["status"] == "offline":
        raise offline()
    if switches.busy or switches.phase in ("processing", "collected"):
        raise busy()
    timed_out = switches.timeouts > 0
    if timed_out:
        switches.timeouts -= 1
        if not switches.timeout_delivered:
            raise timeout()
    switches.generation += 1
    switches.phase = phase if action["status"] == "in_progress" else "idle"
    reader["action"] = action
    ctx.account.changed("readers", reader)
    if switches.phase == "waiting" and switches.auto_present is not None:
        auto = switches.auto_present
        ctx.emulator.call_later(
            auto.after_ms / 1000,
            ctx.emulator.locked(_auto_present),
            ctx,
            reader["id"],
            switches.generation,
        )
    if timed_out:
        raise timeout()
    return reader


def _auto_present(ctx: Ctx, reader_id: str, generation: int) -> None:
    switches = ctx.emulator.readers.get(reader_id)
    reader = ctx.account.get("readers", reader_id)
    if reader is None or switches is None or switches.auto_present is None:
        return
    if switches.generation != generation or switches.phase != "waiting":
        return
    auto = switches.auto_present
    later = Ctx(ctx.emulator, ctx.account, api_version=ctx.api_version)
    try:
        present(later, reader, auto.type, auto.number, auto.amount_tip)
    except StripeError:
        return


def card_for(method_type: str, number: str | None) -> Card:
    if number is None:
        number = (
            cards.DEFAULT_INTERAC
            if method_type == "interac_present"
            else cards.DEFAULT_CARD_PRESENT
        )
    card = cards.lookup(number)
    if card is None:
        raise invalid(
            f"The card number {number} is not a supported test card number.",
            f"{method_type}[number]",
        )
    return card


def _default_type(ctx: Ctx, action: Obj) -> str:
    """With no type given, Interac when the PaymentIntent takes only Interac; card_present else."""
    intent_id = action[action["type"]].get("payment_intent")
    pi = ctx.account.get("payment_intents", intent_id) if isinstance(intent_id, str) else None
    types = pi["payment_method_types"] if pi else []
    return "interac_present" if types == ["interac_present"] else "card_present"


def present(
    ctx: Ctx, reader: Obj, method_type: str | None, number: str | None, tip: int | None
) -> Obj:
    """A card is tapped or inserted on ``reader`` (``method_type`` None: the action's default)."""
    action = reader.get("action")
    switches = ctx.emulator.switches(reader["id"])
    if action is None or action["status"] != "in_progress" or switches.phase == "processing":
        raise invalid(
            "The reader has no in-progress action that can accept a payment method.",
            None,
            "terminal_reader_no_action_in_progress",
        )
    if action["type"] in ("collect_inputs", "set_reader_display") or switches.phase == "collected":
        raise invalid(
            f"The reader's {action['type']} action does not accept a payment method.",
        )
    if method_type is None:
        method_type = _default_type(ctx, action)
    card = card_for(method_type, number)
    presented = Presented(card, "interac_present" if card.brand == "interac" else method_type, tip)
    delay = switches.action_delay_ms
    if delay is None:
        delay = ctx.emulator.action_delay_ms
    if delay > 0:
        switches.phase = "processing"
        ctx.emulator.call_later(
            delay / 1000,
            ctx.emulator.locked(_finish_later),
            ctx,
            reader["id"],
            switches.generation,
            presented,
        )
        return reader
    finish(ctx, reader, presented)
    return reader


def _finish_later(ctx: Ctx, reader_id: str, generation: int, presented: Presented) -> None:
    reader = ctx.account.get("readers", reader_id)
    switches = ctx.emulator.readers.get(reader_id)
    if reader is None or switches is None or switches.generation != generation:
        return
    finish(Ctx(ctx.emulator, ctx.account, api_version=ctx.api_version), reader, presented)


def finish(ctx: Ctx, reader: Obj, presented: Presented) -> None:
    from countertop.emulator import device_actions

    switches = ctx.emulator.switches(reader["id"])
    switches.phase = "idle"
    action = reader["action"]
    device_actions.COMPLETIONS[action["type"]](ctx, reader, action, presented, switches)
    ctx.account.changed("readers", reader)


def customer_cancel(ctx: Ctx, reader: Obj) -> None:
    """The customer presses cancel on the reader (allowed only when the action enables it)."""
    action = reader.get("action")
    switches = ctx.emulator.switches(reader["id"])
    if action is None or action["status"] != "in_progress" or switches.phase == "processing":
        raise ValueError("the reader has no action the customer can cancel")
    config = next(
        (value for key, value in action[action["type"]].items() if key.endswith("_config")), None
    )
    if not (config or {}).get("enable_customer_cancellation"):
        raise ValueError("the action was not started with enable_customer_cancellation")
    switches.phase = "idle"
    switches.collected = None
    switches.generation += 1
    fail(ctx, reader, action, "customer_canceled", "The customer canceled the action.", None)
    ctx.account.changed("readers", reader)


def succeed(ctx: Ctx, reader: Obj, action: Obj) -> None:
    action["status"] = "succeeded"
    ctx.emit("terminal.reader.action_succeeded", reader)


def fail(
    ctx: Ctx, reader: Obj, action: Obj, code: str, message: str, api_error: Obj | None
) -> None:
    action["status"] = "failed"
    action["failure_code"] = code
    action["failure_message"] = message
    action["api_error"] = api_error
    ctx.emit("terminal.reader.action_failed", reader)


def pay(
    ctx: Ctx, reader: Obj, action: Obj, pi: Obj, presented: Presented, pm: Obj | None = None
) -> None:
    """Authorize ``pi`` for a reader action and end the action accordingly."""
    if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
        error = invalid_intent()
        fail(ctx, reader, action, "intent_invalid_state", error.message, error.to_object())
        return
    decline, _charge = payments.authorize(
        ctx, pi, presented.card, presented.method_type, reader, presented.tip, pm
    )
    if decline is None:
        succeed(ctx, reader, action)
    else:
        fail(ctx, reader, action, "card_declined", decline.message, pi["last_payment_error"])
