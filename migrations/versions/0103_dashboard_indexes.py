"""indexes for the HR dashboard

The dashboard counts one month's agents by section (event and rule) and the open review
cases of twelve months. ``(month, event, rule)`` answers the first from the index alone
(it replaces ``(month, event)``, its prefix); ``(event, month)`` reaches the few review rows
of a range of months without reading the others; ``agents(team)`` lists the teams.
It also stores a first results stamp (services.results_stamp), so the dashboard's
company-wide trend can be kept in memory before the next company-wide recompute.

Revision ID: 0103_dashboard_indexes
Revises: 0102_request_agent
Create Date: 2026-11-27 11:30:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0103_dashboard_indexes"
down_revision = "0102_request_agent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_month_results_month_event_rule", "month_results", ["month", "event", "rule"])
    op.drop_index("ix_month_results_month_event", table_name="month_results")
    op.create_index("ix_month_results_event_month", "month_results", ["event", "month"])
    op.create_index("ix_agents_team", "agents", ["team"])
    op.get_bind().execute(sa.text("INSERT INTO id_counters (name, value) VALUES ('results_stamp', :v)"),
                          {"v": secrets.randbits(62) + 1})


def downgrade() -> None:
    op.execute("DELETE FROM id_counters WHERE name = 'results_stamp'")
    op.drop_index("ix_agents_team", table_name="agents")
    op.drop_index("ix_month_results_event_month", table_name="month_results")
    op.create_index("ix_month_results_month_event", "month_results", ["month", "event"])
    op.drop_index("ix_month_results_month_event_rule", table_name="month_results")
