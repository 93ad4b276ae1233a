"""Locations that belong to a connected account (Stripe Connect) rather than the platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from countertop.backend.store.base import Base, UtcDateTime


class ConnectedLocationRow(Base):
    """A location created on a connected account: its Stripe calls carry `Stripe-Account`."""

    __tablename__ = "connected_locations"

    location_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
