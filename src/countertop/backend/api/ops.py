"""Operations routes: `GET /metrics` in the Prometheus text format (see docs/operations.md)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
