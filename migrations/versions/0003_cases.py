"""fraud cases: identity misuse, wrong number, scam report

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("loan_id", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("conversation_id", sa.String(length=80), nullable=False),
        sa.Column("details", sa.String(length=500), nullable=False),
        sa.Column("consent_at", sa.DateTime(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_cases_customer_id_customers")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_cases_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("idempotency_key", name="uq_cases_idempotency_key"),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_phone_type_status", ["phone", "type", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_phone_type_status")
    op.drop_table("cases")
