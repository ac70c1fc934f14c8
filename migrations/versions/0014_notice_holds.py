"""notice holds: the notices the collection rules held back, one row per instalment, day and reason

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instalment_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("loan_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instalment_id"], ["instalments.id"], name=op.f("fk_notice_holds_instalment_id_instalments")
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_notice_holds_customer_id_customers")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_notice_holds_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_holds")),
        sa.UniqueConstraint("instalment_id", "day", "reason", name="uq_notice_holds_instalment_day_reason"),
    )
    with op.batch_alter_table("notice_holds", schema=None) as batch_op:
        batch_op.create_index("ix_notice_holds_day", ["day"], unique=False)


def downgrade() -> None:
    op.drop_table("notice_holds")
