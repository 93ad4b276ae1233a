"""Validate JSON bodies against Stripe's published OpenAPI description (version 2023-09-12).

The description is OpenAPI 3.0, not plain JSON Schema, so it is translated once before use:

- `nullable: true` becomes "this schema, or null";
- `$ref`s to `#/components/schemas/...` are resolved through a `referencing` registry holding the
  whole document;
- expandable fields are already written in the spec as `anyOf: [string id, object]`, so both an id
  and an expanded object validate, and the object is checked against its own schema;
- a property marked `x-stripeBypassValidation` has an enum Stripe itself calls open-ended, so its
  enum is dropped (the type is still checked);
- enum values Stripe added after 2023 for the objects we serve are listed in `NEWER_ENUM_VALUES`
  and accepted alongside the published ones;
- keys the spec does not mention are allowed (the schemas never set `additionalProperties: false`,
  and fields added since 2023, such as `action.api_error`, are expected extra keys).

Events are checked twice: the envelope against `event`, then `data.object` against the schema of
the object named in the event type.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import stripe
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from countertop.emulator.server import EmulatorServer

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams

# Copies of Stripe's published OpenAPI description (2023-09-12 subset) and example objects.
STRIPE_DATA = Path(__file__).resolve().parents[1] / "data" / "stripe"
SPEC_PATH = STRIPE_DATA / "openapi-2023-09-12-subset.json"
FIXTURES_PATH = STRIPE_DATA / "fixtures3.json"
SPEC_URI = "urn:stripe:openapi-2023-09-12"

# The API version the shape tests speak: the one FACTS.md and Stripe's fixtures describe, where
# PaymentIntents still take `payment_method_types`. The library's own pinned version (endive)
# no longer does; test_conformance_versions.py covers it.
FLOW_API_VERSION = "2026-06-24.dahlia"

# Values Stripe added to closed enums after 2023-09-12, for the objects the emulator serves.
# Source: FACTS.md section 1 (stripe-python v15 `terminal/_reader.py` types).
NEWER_ENUM_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("terminal.reader", "device_type"): (
        "mobile_phone_reader",
        "stripe_s700",
        "stripe_s710",
        "simulated_stripe_s700",
        "simulated_stripe_s710",
        "simulated_verifone_m425",
        "simulated_verifone_p630",
        "simulated_verifone_ux700",
        "simulated_verifone_v660p",
        "verifone_m425",
        "verifone_p630",
        "verifone_ux700",
        "verifone_v660p",
    ),
}

# Event type prefix -> schema of `data.object`, longest prefix first.
EVENT_OBJECT_SCHEMAS: tuple[tuple[str, str], ...] = (
    ("terminal.reader.", "terminal.reader"),
    ("terminal.location.", "terminal.location"),
    ("payment_intent.", "payment_intent"),
    ("charge.refund.", "refund"),
    ("charge.", "charge"),
    ("refund.", "refund"),
    ("setup_intent.", "setup_intent"),
    ("payment_method.", "payment_method"),
)


def _translate(node: Any) -> Any:
    """OpenAPI 3.0 schema node -> JSON Schema 2020-12 node."""
    if isinstance(node, list):
        return [_translate(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _translate(value) for key, value in node.items() if key != "nullable"}
    if out.get("x-stripeBypassValidation"):
        out.pop("enum", None)
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _document() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    schemas = copy.deepcopy(spec["components"]["schemas"])
    for (schema_name, prop), values in NEWER_ENUM_VALUES.items():
        prop_schema = schemas[schema_name]["properties"][prop]
        prop_schema["enum"] = [*prop_schema["enum"], *values]
    spec["components"]["schemas"] = _translate(schemas)
    spec["paths"] = _translate(spec["paths"])
    return spec


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = DRAFT202012.create_resource(_document())
    return Registry().with_resource(SPEC_URI, resource)


@cache
def _validator_for(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=_registry())


def schema_names() -> list[str]:
    return sorted(_document()["components"]["schemas"])


def errors_for(instance: Any, schema: str) -> list[str]:
    """Every violation of `components/schemas/<schema>`, as readable one-liners."""
    pointer = "/components/schemas/" + schema.replace("~", "~0").replace("/", "~1")
    return _described(_validator_for(pointer).iter_errors(instance))


def _described(errors: Iterable[ValidationError]) -> list[str]:
    leaves = [leaf for error in errors for leaf in _leaves(error)]
    leaves.sort(key=lambda e: [str(part) for part in e.absolute_path])
    return [_describe(leaf) for leaf in leaves]


def _leaves(error: ValidationError) -> list[ValidationError]:
    """For an anyOf/oneOf failure, every error of the branch that got furthest (not `null`)."""
    if not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    best = max(branches.values(), key=_reach)
    return [leaf for sub in best for leaf in _leaves(sub)]


def _reach(errors: list[ValidationError]) -> tuple[int, int, int]:
    """How far a failed branch got: deeper paths first, then branches that are not `null`, then
    branches whose type matched (an expanded object's missing field beats "not a string")."""
    deepest = max(len(e.absolute_path) for e in errors)
    not_null = 0 if all(e.validator_value == "null" for e in errors) else 1
    type_matched = 0 if all(e.validator == "type" for e in errors) else 1
    return (deepest, not_null, type_matched)


def _describe(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "<root>"
    return f"{where}: {error.message[:300]}"


def assert_valid(instance: Any, schema: str) -> None:
    problems = errors_for(instance, schema)
    if schema == "event" and not problems:
        problems = _event_object_errors(instance)
    assert not problems, f"{schema} does not match the 2023-09-12 spec:\n" + "\n".join(problems)


def _event_object_errors(event: dict[str, Any]) -> list[str]:
    event_type = str(event.get("type", ""))
    for prefix, schema in EVENT_OBJECT_SCHEMAS:
        if event_type.startswith(prefix):
            return [f"data.object {p}" for p in errors_for(event["data"]["object"], schema)]
    return [f"no schema known for event type {event_type!r}"]


def list_schema_errors(instance: Any, path: str) -> list[str]:
    """Violations of the 200 response schema of `GET <path>` (a list object) in the spec."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/get/responses/200/content/application~1json/schema"
    return _described(_validator_for(pointer).iter_errors(instance))


def assert_valid_list(instance: Any, path: str) -> None:
    """A list object answered by `GET <path>`: envelope and every item, as the spec has them."""
    problems = list_schema_errors(instance, path)
    assert not problems, f"GET {path} list does not match the spec:\n" + "\n".join(problems)
    assert instance["url"] == path, f"list url {instance['url']!r} should be {path!r}"


def fixture(resource: str) -> dict[str, Any]:
    """Stripe's published example object for `resource` (fixtures3.json)."""
    fixtures: dict[str, Any] = json.loads(FIXTURES_PATH.read_text())["resources"]
    found: dict[str, Any] = fixtures[resource]
    return found


def missing_keys(ours: dict[str, Any], theirs: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Keys of Stripe's object, at any depth (dotted), that ours lacks."""
    for key, value in theirs.items():
        if key not in ours:
            yield prefix + key
        elif isinstance(value, dict) and isinstance(ours[key], dict):
            yield from missing_keys(ours[key], value, f"{prefix}{key}.")


def raw_body(obj: stripe.StripeObject) -> dict[str, Any]:
    """The JSON body exactly as the emulator sent it (not the library's object)."""
    response = obj.last_response
    assert response is not None, "the library kept no response for this object"
    assert isinstance(response.data, dict)
    return dict(response.data)


def card_present_intent(client: stripe.StripeClient, amount: int) -> stripe.PaymentIntent:
    """A manual-capture card_present PaymentIntent, created as API versions before endive do."""
    params: dict[str, Any] = {
        "amount": amount,
        "currency": "usd",
        "payment_method_types": ["card_present"],  # typed out of stripe-python 16's params
        "capture_method": "manual",
    }
    return client.v1.payment_intents.create(cast("PaymentIntentCreateParams", params))


def flow_client(
    server: EmulatorServer, stripe_version: str | None = FLOW_API_VERSION
) -> stripe.StripeClient:
    """The official client pointed at `server`, speaking `stripe_version` (None: the library's)."""
    return stripe.StripeClient(
        server.secret_key,
        base_addresses={"api": server.url},
        max_network_retries=0,
        stripe_version=stripe_version,
    )
