"""notice outbox: status, attempts, text and idempotency key on sms_notices

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=12), nullable=False, server_default="sent"))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("text", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_sms_notices_idempotency_key"), ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sms_notices_idempotency_key"), type_="unique")
        for column in ("idempotency_key", "text", "delivered_at", "last_error", "attempts", "status"):
            batch_op.drop_column(column)
