"""Reading and validating request parameters the way Stripe reports problems with them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from countertop.emulator.errors import StripeError, missing, unknown
from countertop.emulator.errors import invalid as _invalid

Params = dict[str, Any]


def invalid(message: str, param: str | None = None) -> StripeError:
    """A parameter failed validation: Stripe does not save such answers under an idempotency key."""
    error = _invalid(message, param)
    error.validation = True
    return error


def _label(name: str, parent: str | None) -> str:
    return f"{parent}[{name}]" if parent else name


def allowed(params: Params, names: Iterable[str], parent: str | None = None) -> None:
    """Refuse parameters the endpoint does not know (``expand`` is always accepted)."""
    known = set(names)
    known.add("expand")
    for key in params:
        if key not in known:
            raise unknown(_label(key, parent))


def text(
    params: Params,
    name: str,
    *,
    required: bool = False,
    max_length: int = 5000,
    parent: str | None = None,
) -> str | None:
    value = params.get(name)
    if value is None or (value == "" and required):
        if required:
            raise missing(_label(name, parent))
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {_label(name, parent)}", _label(name, parent))
    if len(value) > max_length:
        raise invalid(
            f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
            _label(name, parent),
        )
    return value


def is_integer(value: str) -> bool:
    """ASCII digits with an optional minus sign, within a 64-bit integer's length."""
    digits = value.removeprefix("-")
    return digits.isascii() and digits.isdigit() and len(digits) <= 19


def integer(
    params: Params,
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    parent: str | None = None,
) -> int | None:
    value = params.get(name)
    label = _label(name, parent)
    if value is None or value == "":
        if required:
            raise missing(label)
        return None
    if not isinstance(value, str) or not is_integer(value):
        raise invalid(f"Invalid integer: {value[:40] if isinstance(value, str) else value}", label)
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", label)
    if maximum is not None and number > maximum:
        raise invalid(f"This value must be less than or equal to {maximum}.", label)
    return number


def boolean(params: Params, name: str, parent: str | None = None) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise invalid(f"Invalid boolean: {value}", _label(name, parent))


def choice(
    params: Params,
    name: str,
    options: Iterable[str],
    *,
    required: bool = False,
    parent: str | None = None,
) -> str | None:
    value = text(params, name, required=required, parent=parent)
    if value is None:
        return None
    options = tuple(options)
    if value not in options:
        raise invalid(
            f"Invalid {_label(name, parent)}: must be one of {', '.join(options)}",
            _label(name, parent),
        )
    return value


def mapping(
    params: Params, name: str, *, required: bool = False, parent: str | None = None
) -> Params | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(_label(name, parent))
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {_label(name, parent)}", _label(name, parent))
    return value


def array(
    params: Params, name: str, *, required: bool = False, parent: str | None = None
) -> list[Any] | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(_label(name, parent))
        return None if value is None else []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return list(value.values())
    if not isinstance(value, list):
        raise invalid(f"Invalid array: {_label(name, parent)}", _label(name, parent))
    return value


def strings(params: Params, name: str, *, required: bool = False) -> list[str] | None:
    values = array(params, name, required=required)
    if values is None:
        return None
    for value in values:
        if not isinstance(value, str):
            raise invalid(f"Invalid array: {name}", name)
    return values


def metadata(current: dict[str, str] | None, value: Any) -> dict[str, str]:
    """Merge new metadata into ``current``: an empty string unsets a key, or all of them."""
    result = dict(current or {})
    if value is None:
        return result
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("Invalid object: metadata", "metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise invalid(f"Invalid value for metadata[{key}]", f"metadata[{key}]")
        if len(key) > 40:
            raise invalid("Metadata keys can be at most 40 characters.", f"metadata[{key}]")
        if len(item) > 500:
            raise invalid("Metadata values can be at most 500 characters.", f"metadata[{key}]")
        if item == "":
            result.pop(key, None)
        else:
            result[key] = item
    if len(result) > 50:
        raise invalid("You can have at most 50 metadata keys.", "metadata")
    return result


def expand_paths(params: Params) -> list[str]:
    value = params.get("expand")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid("Invalid array: expand", "expand")
    return value
