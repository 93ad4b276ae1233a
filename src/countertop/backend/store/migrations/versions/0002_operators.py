"""Operators, the locations each may use, and their browser sessions.

Revision ID: 0002_operators
Revises: 0001_initial
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_operators"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("seed", sa.String(32), nullable=True),
        sa.Column("credential_lookup", sa.String(32), nullable=False),
        sa.Column("credential_salt", sa.String(64), nullable=False),
        sa.Column("credential_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('operator', 'admin')", name=op.f("ck_operators_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("seed", name=op.f("uq_operators_seed")),
        sa.UniqueConstraint("credential_lookup", name=op.f("uq_operators_credential_lookup")),
    )
    op.create_table(
        "operator_locations",
        sa.Column("operator_id", sa.String(40), nullable=False),
        sa.Column("location_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_locations_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", "location_id", name=op.f("pk_operator_locations")),
    )
    op.create_index(
        op.f("ix_operator_locations_location_id"), "operator_locations", ["location_id"]
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sessions_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sessions")),
    )
    op.create_index(op.f("ix_operator_sessions_operator_id"), "operator_sessions", ["operator_id"])
    op.create_index(op.f("ix_operator_sessions_expires_at"), "operator_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("operator_sessions")
    op.drop_table("operator_locations")
    op.drop_table("operators")
