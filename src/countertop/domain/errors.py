"""Errors the pure rules raise; the backend maps them to HTTP at its edge."""

from __future__ import annotations


class DomainError(ValueError):
    """Input that breaks a business rule (a negative quantity, an unknown currency...)."""


class IllegalTransition(DomainError):
    """A command asked for a state change the state machine does not allow."""

    def __init__(self, status: str, event: str) -> None:
        super().__init__(f"{event} is not allowed while the attempt is {status}")
        self.status = status
        self.event = event
