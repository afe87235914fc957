"""calibration sessions

Revision ID: 0101_calibration
Revises: 0100_disputes
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import starlevel.db.models

revision = "0101_calibration"
down_revision = "0100_disputes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("inspectors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_sessions")),
    )
    op.create_table(
        "calibration_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.String(length=64), nullable=False),
        sa.Column("agreed_codes", sa.JSON(), nullable=True),
        sa.Column("agreed_score", starlevel.db.models.ExactDecimal(6, 2), nullable=True),
        sa.Column("agreed_by", sa.String(length=100), nullable=True),
        sa.Column("agreed_at", sa.DateTime(), nullable=True),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["inspection_id"], ["inspections.inspection_id"],
                                name=op.f("fk_calibration_items_inspection_id_inspections")),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"],
                                name=op.f("fk_calibration_items_session_id_calibration_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_items")),
        sa.UniqueConstraint("session_id", "inspection_id", name="uq_calibration_items_contact"),
    )
    with op.batch_alter_table("calibration_items", schema=None) as batch_op:
        batch_op.create_index("ix_calibration_items_inspection", ["inspection_id"], unique=False)
    op.create_table(
        "calibration_scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("inspector", sa.String(length=100), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("score", starlevel.db.models.ExactDecimal(6, 2), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["calibration_items.id"],
                                name=op.f("fk_calibration_scores_item_id_calibration_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_scores")),
        sa.UniqueConstraint("item_id", "inspector", name="uq_calibration_scores_item_inspector"),
    )


def downgrade() -> None:
    op.drop_table("calibration_scores")
    with op.batch_alter_table("calibration_items", schema=None) as batch_op:
        batch_op.drop_index("ix_calibration_items_inspection")
    op.drop_table("calibration_items")
    op.drop_table("calibration_sessions")
