"""PostgreSQL: vacuum month_results after a fixed number of changed rows, not a share

0104 vacuumed month_results once 2 % of it had changed (9,800 rows at 10,000 × 36). The
rows that churn are the recent months' (deferred recomputes after saves rewrite the rows
that changed), and those are exactly the rows HR's dashboard counts: a morning of
inspections left about 1,200 dead versions in the latest month, well below 2 %, and its
index-only counts fetched 2,300 rows from the heap until a vacuum ran (the dashboard's
median at 8 clients went from 105 ms after a vacuum to 125-131 ms before it). A vacuum
after 500 changed rows, whatever the table's size, keeps those counts index-only; it
visits only the pages that changed, and PostgreSQL skips the index pass when so few rows
are dead.

Revision ID: 0105_results_vacuum_by_count
Revises: 0104_results_autovacuum
Create Date: 2026-11-27 18:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0105_results_vacuum_by_count"
down_revision = "0104_results_autovacuum"
branch_labels = None
depends_on = None

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "500",
    "autovacuum_vacuum_insert_scale_factor": "0",
    "autovacuum_vacuum_insert_threshold": "5000",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_analyze_threshold": "1000",
}
BEFORE = {  # 0104's
    "autovacuum_vacuum_scale_factor": "0.02",
    "autovacuum_vacuum_threshold": "1000",
}


def _set(values: dict[str, str]) -> None:
    op.execute(f"ALTER TABLE month_results SET ({', '.join(f'{k} = {v}' for k, v in values.items())})")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set(SETTINGS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE month_results RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold)")
    _set(BEFORE)
