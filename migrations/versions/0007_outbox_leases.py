"""outbox leases: a claim token and lease expiry on handoff tickets and SMS notices

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Stored times keep their convention (bank-local wall-clock time, naive; see bot/clock.py), so no
existing row changes. Rows are claimed ("sending") before anything is sent; a lease that
expires makes them claimable again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("handoff_tickets", "sms_notices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.create_index("ix_sms_notices_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_notices_status")
    for table in ("handoff_tickets", "sms_notices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("lease_expires_at")
            batch_op.drop_column("claim_token")
