"""month_results without its foreign key to agents

``month_results`` is derived data: every row is written by the engine for an agent it read
from ``agents``, and agents are never deleted, so the key guarded nothing. It cost two
things on SQLite at 10,000 agents × 36 months: each of the 440,000 inserts of a full
recompute looked the agent up (about 0.6 s), and a table with a foreign key cannot be
emptied by SQLite's whole-table shortcut, so ``DELETE FROM month_results`` visited every
row (1.3-1.6 s). Without it, the delete frees the table's pages at once.

Revision ID: 0106_results_without_agent_fk
Revises: 0105_results_vacuum_by_count
Create Date: 2026-11-28 00:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0106_results_without_agent_fk"
down_revision = "0105_results_vacuum_by_count"
branch_labels = None
depends_on = None

NAME = "fk_month_results_agent_id_agents"


def upgrade() -> None:
    with op.batch_alter_table("month_results", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("month_results", schema=None) as batch_op:
        batch_op.create_foreign_key(NAME, "agents", ["agent_id"], ["agent_id"])
