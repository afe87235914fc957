"""Inspection ids from a running number that concurrent saves never fight over

Revision ID: 0002_id_counters
Revises: 0001
Create Date: 2026-11-27 08:00:00

Web-entered inspections are numbered ``W<day>-<number>``. The number used to be the
day's highest + 1, which concurrent saves on PostgreSQL kept colliding on. It now comes
from a counter (SQLite: a row of ``id_counters``; PostgreSQL: the sequence
``inspection_number_seq``), seeded above every number already in use, so existing ids
keep their meaning and new ones never repeat them.
"""

from __future__ import annotations

import re

from alembic import op
import sqlalchemy as sa


revision = '0002_id_counters'
down_revision = '0001'
branch_labels = None
depends_on = None

_WEB_ID = re.compile(r"^W\d{8}-(\d{1,18})$")


def _highest_number(bind: sa.engine.Connection) -> int:
    ids = bind.execute(sa.text("SELECT inspection_id FROM inspections WHERE inspection_id LIKE 'W%-%'")).scalars()
    numbers = [int(m.group(1)) for m in (_WEB_ID.match(i) for i in ids) if m]
    return max(numbers, default=0)


def upgrade() -> None:
    op.create_table('id_counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_id_counters'))
    )
    bind = op.get_bind()
    highest = _highest_number(bind)
    bind.execute(sa.text("INSERT INTO id_counters (name, value) VALUES ('inspection', :v)"), {"v": highest})
    if bind.dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE inspection_number_seq START WITH {highest + 1}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE inspection_number_seq")
    op.drop_table('id_counters')
