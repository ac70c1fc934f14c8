"""analytics events: every Rasa event of every conversation, rejected messages, source cursors

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# SQLite autoincrements only INTEGER primary keys; elsewhere the ids are 64-bit.
ANALYTICS_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        sa.Column("id", ANALYTICS_ID, autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=80), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=True),
        sa.Column("intent_confidence", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_analytics_events_event_key")),
    )
    with op.batch_alter_table("analytics_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analytics_events_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index("ix_analytics_events_conversation_at", ["conversation_id", "at"], unique=False)
    op.create_table(
        "analytics_rejects",
        sa.Column("id", ANALYTICS_ID, autoincrement=True, nullable=False),
        sa.Column("reject_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rejects")),
        sa.UniqueConstraint("reject_key", name=op.f("uq_analytics_rejects_reject_key")),
    )
    op.create_table(
        "analytics_cursor",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_cursor")),
    )


def downgrade() -> None:
    op.drop_table("analytics_cursor")
    op.drop_table("analytics_rejects")
    op.drop_table("analytics_events")
