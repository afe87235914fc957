"""recompute_requests name the agent of a one-agent re-evaluation; agents indexed by hire date

A one-agent save that rewrites that agent's results leaves a row here (``agent_id`` set,
already done), so that a deferred company-wide evaluation made on an older snapshot knows
whose rows moved underneath it (services.recompute._run_outside_write_lock).

The first and last hire dates bound the evaluated range; every save reads them, and
without an index each read scanned every agent.

Revision ID: 0102_request_agent
Revises: 0101_calibration
Create Date: 2026-11-27 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0102_request_agent"
down_revision = "0101_calibration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recompute_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(length=64), nullable=True))
    op.create_index("ix_agents_hired_on", "agents", ["hired_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_agents_hired_on", table_name="agents")
    with op.batch_alter_table("recompute_requests", schema=None) as batch_op:
        batch_op.drop_column("agent_id")
