"""PostgreSQL: vacuum month_results after a small share of it has changed

Deferred recomputes rewrite the recent months' results over and over (a month is 10,000
rows at 10,000 agents). With PostgreSQL's default (vacuum once 20 % of a table is dead
rows, 88,000 at 10,000 × 36) the dead versions pile up for hours, the visibility map goes
stale and the dashboard's index-only counts fetch every row from the heap: 14 ms instead
of 2.5 ms for one month's counts after a few dozen saves. Vacuuming and analysing once
about 2 % has changed keeps those scans index-only. SQLite has nothing of the kind.

Revision ID: 0104_results_autovacuum
Revises: 0103_dashboard_indexes
Create Date: 2026-11-27 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0104_results_autovacuum"
down_revision = "0103_dashboard_indexes"
branch_labels = None
depends_on = None

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.02",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_analyze_threshold": "1000",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    pairs = ", ".join(f"{k} = {v}" for k, v in SETTINGS.items())
    op.execute(f"ALTER TABLE month_results SET ({pairs})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE month_results RESET ({', '.join(SETTINGS)})")
