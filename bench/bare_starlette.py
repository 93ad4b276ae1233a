"""The reference ceiling for the emulator benchmark: Starlette doing only the unavoidable work.

It decodes the form body, stores a dict and answers it as JSON, and answers a GET by id; no
authentication, no validation, no events. Served by uvicorn exactly like the emulator.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STORE: dict[str, dict[str, Any]] = {}


async def create(request: Request) -> JSONResponse:
    form = await request.form()
    intent_id = "pi_" + secrets.token_hex(12)
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": int(str(form["amount"])),
        "currency": form["currency"],
        "payment_method_types": form.getlist("payment_method_types[]"),
        "status": "requires_payment_method",
    }
    STORE[intent_id] = intent
    return JSONResponse(intent)


async def retrieve(request: Request) -> JSONResponse:
    intent = STORE.get(request.path_params["intent"])
    if intent is None:
        return JSONResponse({"error": {"type": "invalid_request_error"}}, status_code=404)
    return JSONResponse(intent)


app = Starlette(
    routes=[
        Route("/v1/payment_intents", create, methods=["POST"]),
        Route("/v1/payment_intents/{intent}", retrieve, methods=["GET"]),
    ]
)
