"""staff decisions: who decided a referred extension request and why; case status notes; lifted suppression

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

No backfill: a wrong-number case closed before this revision (nothing in the bot closed one) holds
notices to its number again until a colleague's decision lifts it; that is the safe side.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("decision_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("decision_note", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("requested_option", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_extension_requests_status_created", ["status", "created_at"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppression_lifted_at", sa.DateTime(), nullable=True))
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("staff", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_notes_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("case_notes")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("suppression_lifted_at")
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_extension_requests_status_created")
        for column in ("requested_option", "decision_note", "decision_reason", "decided_at", "decided_by"):
            batch_op.drop_column(column)
