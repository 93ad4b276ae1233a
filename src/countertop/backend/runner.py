"""`countertop serve`: configure from the environment and run the app under uvicorn."""

from __future__ import annotations

import os

import uvicorn

from countertop.backend.app import create_app
from countertop.backend.settings import Settings


def serve(host: str, port: int, env_overrides: dict[str, str] | None = None) -> None:
    os.environ.update(env_overrides or {})
    settings = Settings()
    if not settings.public_url:
        settings.public_url = f"http://{host}:{port}"
    # log_config=None: uvicorn's records go through the app's redacting handler (logs.py).
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", log_config=None)
