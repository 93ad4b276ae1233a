"""The ``collect_inputs`` reader action and the test helpers that end it."""

from __future__ import annotations

from typing import Any

from countertop.emulator import device
from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.resources.readers import find
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

INPUT_TYPES = ("email", "numeric", "phone", "selection", "signature", "text")
_SAMPLE = {
    "email": "customer@example.com",
    "numeric": "42",
    "phone": "+15555550123",
    "signature": "file_signature",
    "text": "Simulated input",
}


def _input(raw: Any, index: int) -> dict[str, Any]:
    label = f"inputs[{index}]"
    if not isinstance(raw, dict):
        raise invalid(f"Invalid object: {label}", label)
    p.allowed(raw, ("type", "custom_text", "required", "selection", "toggles"), label)
    kind = p.choice(raw, "type", INPUT_TYPES, required=True, parent=label)
    text = p.mapping(raw, "custom_text", required=True, parent=label) or {}
    custom_text = {
        "title": p.text(text, "title", required=True, parent=f"{label}[custom_text]"),
        "description": p.text(text, "description", parent=f"{label}[custom_text]"),
        "submit_button": p.text(
            text, "submit_button", max_length=30, parent=f"{label}[custom_text]"
        ),
        "skip_button": p.text(text, "skip_button", max_length=14, parent=f"{label}[custom_text]"),
    }
    toggles = []
    for number, toggle in enumerate(p.array(raw, "toggles", parent=label) or []):
        if isinstance(toggle, dict):
            toggles.append(
                {
                    "title": toggle.get("title"),
                    "description": toggle.get("description"),
                    "default_value": toggle.get("default_value", "disabled"),
                    "value": None,
                }
            )
        else:
            raise invalid(f"Invalid object: {label}[toggles][{number}]")
    assert kind is not None
    result: dict[str, Any] = {
        "type": kind,
        "custom_text": custom_text,
        "required": bool(p.boolean(raw, "required", label)),
        "skipped": False,
        "toggles": toggles,
        kind: None,
    }
    if kind == "selection":
        selection = p.mapping(raw, "selection", required=True, parent=label) or {}
        choices = p.array(selection, "choices", required=True, parent=f"{label}[selection]") or []
        result["selection"] = {"choices": choices, "id": None, "text": None}
    return result


def collect_inputs(ctx: Ctx) -> Obj:
    reader = find(ctx)
    params = ctx.params
    p.allowed(params, ("inputs", "metadata"))
    raw_inputs = p.array(params, "inputs", required=True) or []
    if not 1 <= len(raw_inputs) <= 5:
        raise invalid("You must pass between 1 and 5 inputs.", "inputs")
    inputs = [_input(raw, index) for index, raw in enumerate(raw_inputs)]
    details = {"inputs": inputs, "metadata": p.metadata(None, params.get("metadata"))}
    return device.start(ctx, reader, device.new_action("collect_inputs", details), phase="inputs")


def _current(ctx: Ctx, reader: Obj) -> Obj:
    action = reader.get("action")
    if action is None or action["type"] != "collect_inputs" or action["status"] != "in_progress":
        raise invalid(
            "The reader has no collect_inputs action in progress.",
            None,
            "terminal_reader_no_action_in_progress",
        )
    return action


def succeed_inputs(ctx: Ctx, reader: Obj, skip_optional: bool) -> Obj:
    action = _current(ctx, reader)
    for item in action["collect_inputs"]["inputs"]:
        kind = item["type"]
        if skip_optional and not item["required"]:
            item["skipped"] = True
            continue
        if kind == "selection":
            choices = item["selection"]["choices"]
            first = choices[0] if choices and isinstance(choices[0], dict) else {}
            item["selection"].update({"id": first.get("id"), "text": first.get("text")})
        else:
            item[kind] = {"value": _SAMPLE[kind]}
        for toggle in item["toggles"]:
            toggle["value"] = toggle.get("default_value") or "disabled"
    ctx.emulator.switches(reader["id"]).phase = "idle"
    device.succeed(ctx, reader, action)
    return ctx.account.changed("readers", reader)


def timeout_inputs(ctx: Ctx, reader: Obj) -> Obj:
    action = _current(ctx, reader)
    ctx.emulator.switches(reader["id"]).phase = "idle"
    device.fail(ctx, reader, action, "collect_inputs_timeout", "collect inputs was timed out", None)
    return ctx.account.changed("readers", reader)


ROUTES: list[Route] = [("POST", "/v1/terminal/readers/{reader}/collect_inputs", collect_inputs)]
