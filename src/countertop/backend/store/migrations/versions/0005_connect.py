"""Locations of connected accounts.

Revision ID: 0005_connect
Revises: 0004_reconciliations
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_connect"
down_revision: str | None = "0004_reconciliations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connected_locations",
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("location_id", name="pk_connected_locations"),
    )
    op.create_index("ix_connected_locations_account_id", "connected_locations", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_connected_locations_account_id", table_name="connected_locations")
    op.drop_table("connected_locations")
