"""notice channels and contact preferences: each notice records its channel (sms, in_app, call) and a
call task its bilingual script; a customer's contact preferences (no calls, in-app or SMS)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        # Every notice recorded before channels existed was an SMS.
        batch_op.add_column(sa.Column("channel", sa.String(length=8), nullable=False, server_default="sms"))
        batch_op.add_column(sa.Column("call_script", sa.Text(), nullable=True))
    op.create_table(
        "contact_preferences",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("no_calls", sa.Boolean(), nullable=False),
        sa.Column("prefer", sa.String(length=8), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contact_preferences_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_contact_preferences")),
    )


def downgrade() -> None:
    op.drop_table("contact_preferences")
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.drop_column("call_script")
        batch_op.drop_column("channel")
