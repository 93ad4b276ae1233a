"""Stripe's error shape: ``{"error": {"type", "code", "message", "param", ...}}`` with its status."""

from __future__ import annotations

from typing import Any

# Where Stripe's `doc_url` points since its docs moved to docs.stripe.com.
DOCS = "https://docs.stripe.com/error-codes/"


class StripeError(Exception):
    """An error answered to the client exactly as Stripe shapes it."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.headers = headers or {}
        # A request's parameters were wrong (nothing ran): never saved under an idempotency key.
        self.validation = code in ("parameter_missing", "parameter_unknown")

    def to_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return error

    def body(self) -> dict[str, Any]:
        return {"error": self.to_object()}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def missing(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param, "parameter_missing")


def unknown(param: str) -> StripeError:
    return invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def unexpected_state(message: str, code: str = "payment_intent_unexpected_state") -> StripeError:
    return invalid(message, None, code)


def unrecognized_url(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )


def unauthorized(message: str) -> StripeError:
    return StripeError(
        401, "invalid_request_error", message, headers={"WWW-Authenticate": 'Basic realm="Stripe"'}
    )


def api_error(status: int = 500) -> StripeError:
    return StripeError(
        status,
        "api_error",
        "An unknown error occurred while processing your request. (Injected by the emulator.)",
    )
