"""extension requests, rescheduled instalments, disputed loans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extension_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("loan_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=24), nullable=False),
        sa.Column("reason_text", sa.String(length=500), nullable=False),
        sa.Column("option", sa.String(length=16), nullable=True),
        sa.Column("terms", sa.String(length=4000), nullable=True),
        sa.Column("rationale", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_extension_requests_customer_id_customers")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_extension_requests_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension_requests")),
        sa.UniqueConstraint("idempotency_key", name="uq_extension_requests_idempotency_key"),
        sa.UniqueConstraint("reference", name=op.f("uq_extension_requests_reference")),
    )
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extension_requests_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_extension_requests_loan_id"), ["loan_id"], unique=False)

    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="scheduled"))
        batch_op.add_column(sa.Column("extension_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_instalments_extension_id_extension_requests"), "extension_requests", ["extension_id"], ["id"]
        )

    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disputed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_column("disputed_at")
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_instalments_extension_id_extension_requests"), type_="foreignkey")
        batch_op.drop_column("extension_id")
        batch_op.drop_column("status")
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extension_requests_loan_id"))
        batch_op.drop_index(batch_op.f("ix_extension_requests_customer_id"))
    op.drop_table("extension_requests")
