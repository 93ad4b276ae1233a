"""The one module that talks to Stripe, through the official `stripe` library's async client.

Everything else in the backend sees plain dicts (Stripe's JSON) and `StripeFailure`. Pointed at the
emulator, only the base address differs; the library cannot tell and neither can the backend.
Every method takes an optional `stripe_account` for Connect (the `Stripe-Account` header).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import stripe

from countertop.backend.settings import Settings

Json = dict[str, Any]

# The events the backend needs: what it subscribes its own endpoint to (emulator mode) and what
# `countertop doctor` asks a Stripe endpoint to send. Stripe advises an endpoint to take only the
# types its integration needs. A sale's charge events (`charge.succeeded`, `charge.captured`,
# `charge.failed`) repeat what its PaymentIntent events say, and the card they carry is learnt
# from the capture's answer (`latest_charge` expanded) or a re-read of the PaymentIntent; they are
# still applied when an endpoint sends them.
WEBHOOK_EVENTS = [
    "terminal.reader.action_succeeded",
    "terminal.reader.action_failed",
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
]


@dataclass
class StripeFailure(Exception):
    """A Stripe call that did not succeed, in Stripe's own terms.

    `network` is True when no answer came back (the request may or may not have been applied).
    """

    code: str
    message: str
    http_status: int | None = None
    type: str | None = None
    decline_code: str | None = None
    network: bool = False
    payment_intent: Json | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class WebhookRejected(Exception):
    """A webhook whose signature is missing, wrong or too old, or whose body is not an event."""


def _failure(error: stripe.StripeError) -> StripeFailure:
    if isinstance(error, stripe.APIConnectionError):
        return StripeFailure("network_error", str(error.user_message or error), network=True)
    obj = getattr(error, "error", None)
    decline_code = getattr(obj, "decline_code", None) if obj is not None else None
    pi = getattr(obj, "payment_intent", None) if obj is not None else None
    status = error.http_status
    return StripeFailure(
        code=error.code or ("api_error" if (status or 500) >= 500 else "stripe_error"),
        message=str(error.user_message or error),
        http_status=status,
        type=getattr(obj, "type", None) if obj is not None else None,
        decline_code=decline_code,
        network=status is None or status >= 500 or status == 429,
        payment_intent=pi.to_dict() if pi is not None else None,
    )


def verify_webhook(
    payload: bytes, signature: str | None, secret: str, tolerance: int = 300
) -> Json:
    """Check `Stripe-Signature` and return the event as a dict; raise `WebhookRejected` otherwise."""
    if not signature:
        raise WebhookRejected("missing Stripe-Signature header")
    # The signature is checked on the raw bytes and the JSON parsed once, as a plain dict: building
    # the library's StripeObjects for every event only to turn them back into dicts costs more
    # than the rest of receiving the event.
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as error:
        raise WebhookRejected(str(error.user_message or error)) from None
    except ValueError as error:  # not UTF-8
        raise WebhookRejected(f"not a Stripe event: {error}") from None
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise WebhookRejected(f"not a Stripe event: {error}") from None
    if not isinstance(event, dict):
        raise WebhookRejected("not a Stripe event: not a JSON object")
    return event


def _id(object_id: str) -> str:
    """An object id as one path segment, whatever it holds."""
    return quote(object_id, safe="")


def _options(idempotency_key: str | None, stripe_account: str | None) -> Any:
    options: dict[str, str] = {}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    if stripe_account:
        options["stripe_account"] = stripe_account
    return options


class _AIOHTTPClient(stripe.AIOHTTPClient):
    """The library's aiohttp transport, with an answer cut short read as the network error it is.

    The library reports a failure to connect or to read the status line as an
    `APIConnectionError` (retried with the same idempotency key), but lets an error while reading
    the body escape as aiohttp's own exception. A connection lost in the middle of an answer is
    the same network error, and must be retried and reported the same way.
    """

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        content, status, answer_headers = await self.request_stream_async(
            method, url, headers, post_data=post_data
        )
        try:
            body = await content.read()
        except Exception as error:  # every failure to read the answer is a network failure
            self._handle_request_error(error)
        return body, status, answer_headers


class StripeGateway:
    """Thin async wrapper over `stripe.StripeClient`: one method per Stripe call the backend makes."""

    def __init__(self, settings: Settings) -> None:
        self.configured = settings.stripe_secret_key is not None
        key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        # The library's aiohttp transport: a Stripe call costs the backend well under half the CPU
        # it costs through its httpx one (aiohttp parses HTTP in C). Its session is opened on
        # the first call, on the running event loop.
        self._http = _AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=30))
        self.client = stripe.StripeClient(
            key or "sk_unset",
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=settings.stripe_max_network_retries,
            http_client=self._http,
        )

    async def _request(
        self,
        method: str,
        path: str,
        params: Json | None = None,
        *,
        idempotency_key: str | None = None,
        stripe_account: str | None = None,
    ) -> Json:
        """One call through the library's raw request: the same transport, retries, headers and
        errors as its resource methods, with the answer kept as the plain JSON it arrived as.

        The backend works on dicts; turning each answer into StripeObjects and back cost more
        CPU than sending the request.
        """
        if not self.configured:
            raise StripeFailure(
                "stripe_unconfigured", "STRIPE_SECRET_KEY is not set", http_status=503
            )
        options = _options(idempotency_key, stripe_account)
        try:
            answer = await self.client.raw_request_async(method, path, **(params or {}), **options)
        except stripe.StripeError as error:
            raise _failure(error) from None
        data = answer.data
        if not isinstance(data, dict):
            raise StripeFailure("api_error", "Stripe answered with no JSON object", network=True)
        return data

    # ---- PaymentIntents ------------------------------------------------------------------------

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        capture_method: str,
        metadata: dict[str, str],
        description: str | None = None,
        idempotency_key: str,
        payment_method_types: list[str] | None = None,
        payment_method_options: Json | None = None,
        stripe_account: str | None = None,
    ) -> Json:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "allowed_payment_method_types": payment_method_types or ["card_present"],
            "capture_method": capture_method,
            "metadata": metadata,
        }
        if payment_method_options:
            params["payment_method_options"] = payment_method_options
        if description:
            params["description"] = description
        return await self._request(
            "post",
            "/v1/payment_intents",
            params,
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    async def retrieve_payment_intent(
        self, payment_intent: str, *, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "get",
            f"/v1/payment_intents/{_id(payment_intent)}",
            {"expand": ["latest_charge"]},
            stripe_account=stripe_account,
        )

    async def capture_payment_intent(
        self, payment_intent: str, *, idempotency_key: str, stripe_account: str | None = None
    ) -> Json:
        return await self.capture_payment_intent_amount(
            payment_intent,
            amount_to_capture=None,
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    async def cancel_payment_intent(
        self, payment_intent: str, *, idempotency_key: str, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "post",
            f"/v1/payment_intents/{_id(payment_intent)}/cancel",
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    async def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
        stripe_account: str | None = None,
    ) -> Json:
        params: dict[str, Any] = {"payment_intent": payment_intent, "metadata": metadata}
        if amount is not None:
            params["amount"] = amount
        if reason:
            params["reason"] = reason
        return await self._request(
            "post",
            "/v1/refunds",
            params,
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    # ---- Readers -------------------------------------------------------------------------------

    async def retrieve_reader(self, reader: str, *, stripe_account: str | None = None) -> Json:
        return await self._request(
            "get", f"/v1/terminal/readers/{_id(reader)}", stripe_account=stripe_account
        )

    async def list_readers(
        self, *, location: str | None = None, stripe_account: str | None = None
    ) -> list[Json]:
        params: dict[str, Any] = {"limit": 100}
        if location:
            params["location"] = location
        return await self._list("/v1/terminal/readers", params, stripe_account)

    async def create_reader(
        self,
        *,
        registration_code: str,
        label: str | None,
        location: str,
        stripe_account: str | None = None,
    ) -> Json:
        params: dict[str, Any] = {"registration_code": registration_code, "location": location}
        if label:
            params["label"] = label
        return await self._request(
            "post", "/v1/terminal/readers", params, stripe_account=stripe_account
        )

    async def update_reader(
        self, reader: str, *, label: str, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "post",
            f"/v1/terminal/readers/{_id(reader)}",
            {"label": label},
            stripe_account=stripe_account,
        )

    async def delete_reader(self, reader: str, *, stripe_account: str | None = None) -> Json:
        return await self._request(
            "delete", f"/v1/terminal/readers/{_id(reader)}", stripe_account=stripe_account
        )

    async def _reader_action(
        self,
        reader: str,
        action: str,
        params: Json | None,
        idempotency_key: str | None,
        stripe_account: str | None,
    ) -> Json:
        return await self._request(
            "post",
            f"/v1/terminal/readers/{_id(reader)}/{action}",
            params,
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    async def set_reader_display(
        self,
        reader: str,
        *,
        cart: Json,
        idempotency_key: str,
        stripe_account: str | None = None,
    ) -> Json:
        params = {"type": "cart", "cart": cart}
        return await self._reader_action(
            reader, "set_reader_display", params, idempotency_key, stripe_account
        )

    async def process_payment_intent(
        self,
        reader: str,
        *,
        payment_intent: str,
        idempotency_key: str,
        stripe_account: str | None = None,
    ) -> Json:
        params = {"payment_intent": payment_intent}
        return await self._reader_action(
            reader, "process_payment_intent", params, idempotency_key, stripe_account
        )

    async def refund_payment(
        self,
        reader: str,
        *,
        payment_intent: str,
        amount: int,
        metadata: dict[str, str],
        idempotency_key: str,
        stripe_account: str | None = None,
    ) -> Json:
        """Ask the reader to refund `amount` of the payment once the customer taps the same card
        (Interac: the only way to refund it)."""
        params = {"payment_intent": payment_intent, "amount": amount, "metadata": metadata}
        return await self._reader_action(
            reader, "refund_payment", params, idempotency_key, stripe_account
        )

    async def cancel_action(
        self, reader: str, *, idempotency_key: str | None = None, stripe_account: str | None = None
    ) -> Json:
        return await self._reader_action(
            reader, "cancel_action", None, idempotency_key, stripe_account
        )

    async def present_payment_method(
        self,
        reader: str,
        *,
        card_number: str | None = None,
        amount_tip: int | None = None,
        type: str | None = None,
        stripe_account: str | None = None,
    ) -> Json:
        """Test helper: a simulated reader 'sees' a card (test mode and the emulator only)."""
        params: dict[str, Any] = {}
        if card_number:
            params["card_present"] = {"number": card_number}
        if amount_tip is not None:
            params["amount_tip"] = amount_tip
        if type:
            params["type"] = type
        return await self._request(
            "post",
            f"/v1/test_helpers/terminal/readers/{_id(reader)}/present_payment_method",
            params,
            stripe_account=stripe_account,
        )

    # ---- Locations -----------------------------------------------------------------------------

    async def list_locations(self, *, stripe_account: str | None = None) -> list[Json]:
        return await self._list("/v1/terminal/locations", {"limit": 100}, stripe_account)

    async def retrieve_location(self, location: str, *, stripe_account: str | None = None) -> Json:
        return await self._request(
            "get", f"/v1/terminal/locations/{_id(location)}", stripe_account=stripe_account
        )

    async def create_location(
        self, *, display_name: str, address: Json, stripe_account: str | None = None
    ) -> Json:
        params = {"display_name": display_name, "address": address}
        return await self._request(
            "post", "/v1/terminal/locations", params, stripe_account=stripe_account
        )

    async def update_location(
        self, location: str, *, changes: Json, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "post",
            f"/v1/terminal/locations/{_id(location)}",
            changes,
            stripe_account=stripe_account,
        )

    # ---- Webhook endpoints ---------------------------------------------------------------------

    async def create_webhook_endpoint(
        self,
        *,
        url: str,
        enabled_events: list[str],
        connect: bool = False,
        stripe_account: str | None = None,
    ) -> Json:
        """`connect=True`: the endpoint also receives connected accounts' events."""
        params: Json = {"url": url, "enabled_events": enabled_events}
        if connect:
            params["connect"] = True
        return await self._request(
            "post", "/v1/webhook_endpoints", params, stripe_account=stripe_account
        )

    async def list_webhook_endpoints(self, *, stripe_account: str | None = None) -> list[Json]:
        return await self._list("/v1/webhook_endpoints", {"limit": 100}, stripe_account)

    async def delete_webhook_endpoint(
        self, endpoint: str, *, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "delete", f"/v1/webhook_endpoints/{_id(endpoint)}", stripe_account=stripe_account
        )

    async def _list(self, path: str, params: Json, stripe_account: str | None) -> list[Json]:
        """Every item of a list, page after page."""
        items: list[Json] = []
        while True:
            page = await self._request("get", path, params, stripe_account=stripe_account)
            items.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return items
            params = {**params, "starting_after": page["data"][-1]["id"]}

    async def close(self) -> None:
        await self._http.close_async()

    # ---- Reconciliation and receipts -----------------------------------------------------------

    async def list_payment_intents(
        self, *, created_gte: int, created_lt: int, stripe_account: str | None = None
    ) -> list[Json]:
        """Every PaymentIntent created in [created_gte, created_lt), each with its latest charge."""
        params: Json = {
            "limit": 100,
            "created": {"gte": created_gte, "lt": created_lt},
            "expand": ["data.latest_charge"],
        }
        return await self._list("/v1/payment_intents", params, stripe_account)

    async def capture_payment_intent_amount(
        self,
        payment_intent: str,
        *,
        amount_to_capture: int | None,
        idempotency_key: str,
        stripe_account: str | None = None,
    ) -> Json:
        params: Json = {"expand": ["latest_charge"]}
        if amount_to_capture is not None:
            params["amount_to_capture"] = amount_to_capture
        return await self._request(
            "post",
            f"/v1/payment_intents/{_id(payment_intent)}/capture",
            params,
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    async def cancel_payment_intent_with_reason(
        self,
        payment_intent: str,
        *,
        cancellation_reason: str,
        idempotency_key: str,
        stripe_account: str | None = None,
    ) -> Json:
        return await self._request(
            "post",
            f"/v1/payment_intents/{_id(payment_intent)}/cancel",
            {"cancellation_reason": cancellation_reason},
            idempotency_key=idempotency_key,
            stripe_account=stripe_account,
        )

    async def list_refunds(
        self, *, payment_intent: str, stripe_account: str | None = None
    ) -> list[Json]:
        params: Json = {"limit": 100, "payment_intent": payment_intent}
        return await self._list("/v1/refunds", params, stripe_account)

    # ---- Reader configurations and connection tokens -------------------------------------------

    async def list_configurations(self, *, stripe_account: str | None = None) -> list[Json]:
        return await self._list("/v1/terminal/configurations", {"limit": 100}, stripe_account)

    async def create_configuration(
        self, *, params: Json, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "post", "/v1/terminal/configurations", params, stripe_account=stripe_account
        )

    async def update_configuration(
        self, configuration: str, *, params: Json, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "post",
            f"/v1/terminal/configurations/{_id(configuration)}",
            params,
            stripe_account=stripe_account,
        )

    async def delete_configuration(
        self, configuration: str, *, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "delete",
            f"/v1/terminal/configurations/{_id(configuration)}",
            stripe_account=stripe_account,
        )

    async def create_connection_token(
        self, *, location: str, stripe_account: str | None = None
    ) -> Json:
        return await self._request(
            "post",
            "/v1/terminal/connection_tokens",
            {"location": location},
            stripe_account=stripe_account,
        )
