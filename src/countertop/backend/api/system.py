"""system routes (see docs/api.md)."""

from fastapi import APIRouter

router = APIRouter()
