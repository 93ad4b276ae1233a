"""The backend fuzz runs against the whole stack: the emulator and the backend over real HTTP."""

from __future__ import annotations

from tests.backend.conftest import backend, emulator, stripe_api

__all__ = ["backend", "emulator", "stripe_api"]
