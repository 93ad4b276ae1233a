"""OpenAPI descriptions of the problem-details errors a route can answer with (see docs/api.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from countertop.backend.errors import PROBLEM_JSON


class Problem(BaseModel):
    """An error: `code` is stable, the POS app acts on it."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str


_DESCRIPTIONS = {
    400: "Invalid request (`validation_error`).",
    401: "No or unknown credential or session (`unauthenticated`).",
    403: "Not allowed (`forbidden`, `forbidden_location`, `csrf_failed`).",
    404: "Not found in your scope (`not_found`).",
    409: "Not possible in the current state.",
    429: "Too many failed sign-in attempts (`rate_limited`); see `Retry-After`.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that may answer with these statuses as problem details."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "Error."),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }
