"""index instalments by extension (active plans lookup)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.create_index("ix_instalments_extension_id", ["extension_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.drop_index("ix_instalments_extension_id")
