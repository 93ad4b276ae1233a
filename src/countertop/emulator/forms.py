"""Decoding of Stripe's form-encoded request bodies and query strings.

Stripe nests parameters with brackets: ``metadata[order]=42``,
``process_config[tipping][amount_eligible]=500``. Arrays come in two spellings: the official
libraries index them (``expand[0]=a&expand[1]=b``, ``cart[line_items][0][amount]=5``) while curl
users write ``expand[]=a&expand[]=b`` or ``items[][price]=1&items[][quantity]=2``. Both decode to
Python lists. Values stay strings; the resource handlers coerce them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from countertop.emulator.errors import invalid

Params = dict[str, Any]

# Stripe's deepest parameters nest a few levels; far deeper keys are refused, not recursed into.
MAX_DEPTH = 32

# Keys under these parents are free-form names, never array indices.
_FREE_FORM = frozenset({"metadata"})


class _Appended(list[Any]):
    """A list built from ``[]`` segments, appended to in order."""


def _split_key(key: str) -> list[str]:
    start = key.find("[")
    if start <= 0 or not key.endswith("]"):
        return [key]
    parts = [key[:start]]
    parts.extend(key[start + 1 : -1].split("]["))
    if len(parts) > MAX_DEPTH:
        raise invalid(
            f"Invalid parameter: {key[:start]} is nested more than {MAX_DEPTH} levels deep.",
            key[:start],
        )
    return parts


def _child(container: Any, segment: str, next_segment: str | None) -> Any:
    """Return (creating it) the container addressed by ``segment`` inside ``container``."""
    make: type = _Appended if next_segment == "" else dict
    if isinstance(container, _Appended):
        # ``a[][b]=1&a[][c]=2`` fills one element until a key repeats, as Stripe does.
        if container and isinstance(container[-1], dict) and next_segment not in container[-1]:
            return container[-1]
        node = make()
        container.append(node)
        return node
    node = container.get(segment)
    if not isinstance(node, dict | list):
        node = make()
        container[segment] = node
    return node


def _assign(root: Params, parts: list[str], value: str) -> None:
    container: Any = root
    last = len(parts) - 1
    for index in range(last):
        container = _child(container, parts[index], parts[index + 1])
    leaf = parts[last]
    if isinstance(container, _Appended):
        if leaf == "":
            container.append(value)
        else:
            if not container or not isinstance(container[-1], dict) or leaf in container[-1]:
                container.append({})
            container[-1][leaf] = value
    elif isinstance(container, dict):
        container[leaf] = value


def _finish(node: Any, key: str | None) -> Any:
    if isinstance(node, list):
        return [_finish(item, None) for item in node]
    if isinstance(node, dict):
        if node and key not in _FREE_FORM and all(k.isascii() and k.isdigit() for k in node):
            return [_finish(node[k], None) for k in sorted(node, key=int)]
        return {k: _finish(v, k) for k, v in node.items()}
    return node


def decode(raw: str | bytes) -> Params:
    """Decode a form body or query string into nested dicts and lists of strings."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not raw:
        return {}
    root: Params = {}
    nested = False
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if "[" in key:
            nested = True
            _assign(root, _split_key(key), value)
        else:
            root[key] = value
    if not nested:
        return root
    # The top level is always named parameters, even when every name is a number.
    return {k: _finish(v, k) for k, v in root.items()}
