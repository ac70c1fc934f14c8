"""chat entries and ratings: the chat page's history, live stream and satisfaction answers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("chat_session", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_entries")),
        # Also the index of "the lines after n" and "the last line" of a conversation.
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_chat_entries_conversation_id")),
    )
    op.create_table(
        "chat_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=80), nullable=False),
        sa.Column("chat_session", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_ratings")),
        sa.UniqueConstraint("conversation_id", "chat_session", name=op.f("uq_chat_ratings_conversation_id")),
    )

    with op.batch_alter_table("agent_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_messages", schema=None) as batch_op:
        batch_op.drop_column("chat_seq")
    op.drop_table("chat_ratings")
    op.drop_table("chat_entries")
