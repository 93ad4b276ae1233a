"""Receipts sent to customers, stored unchanged as dispute evidence.

Revision ID: 0003_receipts
Revises: 0002_operators
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_receipts"
down_revision: str | None = "0002_operators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("charge_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("resent_of", sa.String(length=40), nullable=True),
        sa.Column("sent_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_receipts_order_id_orders"),
        sa.ForeignKeyConstraint(
            ["resent_of"], ["receipts.id"], name="fk_receipts_resent_of_receipts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_receipts"),
    )
    op.create_index("ix_receipts_order_created", "receipts", ["order_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_receipts_order_created", table_name="receipts")
    op.drop_table("receipts")
