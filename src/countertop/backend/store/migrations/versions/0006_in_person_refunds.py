"""Refunds taken in person on a reader (Interac).

Revision ID: 0006_in_person_refunds
Revises: 0005_connect
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_in_person_refunds"
down_revision: str | None = "0005_connect"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "in_person_refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("attempt_id", sa.String(length=40), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("reader_id", sa.String(length=64), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name="fk_in_person_refunds_order_id_orders",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name="fk_in_person_refunds_attempt_id_attempts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_in_person_refunds"),
    )
    op.create_index("ix_in_person_refunds_order_id", "in_person_refunds", ["order_id"])
    op.create_index(
        "ix_in_person_refunds_status_created", "in_person_refunds", ["status", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_in_person_refunds_status_created", table_name="in_person_refunds")
    op.drop_index("ix_in_person_refunds_order_id", table_name="in_person_refunds")
    op.drop_table("in_person_refunds")
