"""The operator web app."""

from fastapi import APIRouter

router = APIRouter()
