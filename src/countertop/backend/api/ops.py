"""Operations routes: `GET /metrics` in the Prometheus text format (see docs/operations.md)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from countertop.backend.metrics import REGISTRY

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Metrics for Prometheus",
)
async def prometheus_metrics() -> Response:
    """Payments by outcome, webhook events and lag, sweep actions, reader status, HTTP requests."""
    # The classic 0.0.4 text format: every Prometheus version (2.x and 3.x) scrapes it.
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_PLAIN_0_0_4)
