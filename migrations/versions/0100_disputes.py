"""disputes and inspection acknowledgements

Revision ID: 0100_disputes
Revises: 0002_month_close
Create Date: 2026-11-27 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100_disputes"
down_revision = "0002_month_close"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_acks",
        sa.Column("inspection_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("seen_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.agent_id"], name=op.f("fk_inspection_acks_agent_id_agents")),
        sa.ForeignKeyConstraint(["inspection_id"], ["inspections.inspection_id"],
                                name=op.f("fk_inspection_acks_inspection_id_inspections")),
        sa.PrimaryKeyConstraint("inspection_id", name=op.f("pk_inspection_acks")),
    )
    with op.batch_alter_table("inspection_acks", schema=None) as batch_op:
        batch_op.create_index("ix_inspection_acks_agent", ["agent_id"], unique=False)

    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inspection_id", sa.String(length=64), nullable=False),
        sa.Column("defect_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("inspector", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("escalation_note", sa.Text(), nullable=False),
        sa.Column("final_at", sa.DateTime(), nullable=True),
        sa.Column("final_by", sa.String(length=100), nullable=True),
        sa.Column("final_note", sa.Text(), nullable=False),
        sa.Column("agent_unread", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.agent_id"], name=op.f("fk_disputes_agent_id_agents")),
        sa.ForeignKeyConstraint(["defect_id"], ["inspection_defects.id"],
                                name=op.f("fk_disputes_defect_id_inspection_defects")),
        sa.ForeignKeyConstraint(["inspection_id"], ["inspections.inspection_id"],
                                name=op.f("fk_disputes_inspection_id_inspections")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index("ix_disputes_status", ["status"], unique=False)
        batch_op.create_index("ix_disputes_agent", ["agent_id", "status"], unique=False)
        batch_op.create_index("ix_disputes_inspection", ["inspection_id"], unique=False)
        batch_op.create_index("ix_disputes_inspector_month", ["inspector", "month"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_inspector_month")
        batch_op.drop_index("ix_disputes_inspection")
        batch_op.drop_index("ix_disputes_agent")
        batch_op.drop_index("ix_disputes_status")
    op.drop_table("disputes")
    with op.batch_alter_table("inspection_acks", schema=None) as batch_op:
        batch_op.drop_index("ix_inspection_acks_agent")
    op.drop_table("inspection_acks")
