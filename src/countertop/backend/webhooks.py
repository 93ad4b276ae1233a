"""Stripe webhook endpoint."""

from fastapi import APIRouter

router = APIRouter()
