"""notice segments and corrections: each notice records the borrower's segment and the facts that placed
them there; a notice sent in error is marked corrected, and a correction names the notice it corrects

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("segment_facts", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("corrected_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("corrects_notice_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sms_notices_corrects_notice_id_sms_notices"), "sms_notices", ["corrects_notice_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("sms_notices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_sms_notices_corrects_notice_id_sms_notices"), type_="foreignkey")
        batch_op.drop_column("corrects_notice_id")
        batch_op.drop_column("corrected_at")
        batch_op.drop_column("segment_facts")
        batch_op.drop_column("segment")
