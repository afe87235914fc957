"""monthly_metrics holds the inputs the rulebook declares

One row per agent-month with a JSON object of decimal strings (``values``) instead of the
four fixed columns; the four columns of every stored row are carried over as strings
(``{"satisfaction": "92.50", "efficiency": "88.00", "attitude": "4", "complaints": "0"}``).

Revision ID: 0003_generic_metrics
Revises: 0002_id_counters
Create Date: 2026-11-27 08:10:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import starlevel.db.models


revision = '0003_generic_metrics'
down_revision = '0002_id_counters'
branch_labels = None
depends_on = None

_LEGACY = ("satisfaction", "efficiency", "attitude", "complaints")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('monthly_metrics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('values', starlevel.db.models.InputValues(), nullable=True))
    if sqlite:
        # satisfaction / efficiency are stored as text on SQLite already.
        fill = ("json_object('satisfaction', satisfaction, 'efficiency', efficiency, "
                "'attitude', CAST(attitude AS TEXT), 'complaints', CAST(complaints AS TEXT))")
    else:
        fill = ("jsonb_build_object('satisfaction', satisfaction::text, 'efficiency', efficiency::text, "
                "'attitude', attitude::text, 'complaints', complaints::text)")
    op.execute(f'UPDATE monthly_metrics SET "values" = {fill}')
    with op.batch_alter_table('monthly_metrics', schema=None) as batch_op:
        batch_op.alter_column('values', existing_type=starlevel.db.models.InputValues(), nullable=False)
        for name in _LEGACY:
            batch_op.drop_column(name)


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    def field(name: str) -> str:
        return f"json_extract(\"values\", '$.{name}')" if sqlite else f"(\"values\"->>'{name}')"

    # The old schema can hold only the four legacy inputs, all present: refuse rather than
    # drop the rows of any other rulebook's inputs.
    missing = " OR ".join(f"{field(n)} IS NULL" for n in _LEGACY)
    lost = bind.execute(sa.text(f"SELECT count(*) FROM monthly_metrics WHERE {missing}")).scalar_one()
    if lost:
        raise RuntimeError(
            f"cannot downgrade: {lost} monthly_metrics row(s) lack one of {', '.join(_LEGACY)} "
            "and the old schema could not keep them"
        )
    with op.batch_alter_table('monthly_metrics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('satisfaction', starlevel.db.models.ExactDecimal(), nullable=True))
        batch_op.add_column(sa.Column('efficiency', starlevel.db.models.ExactDecimal(), nullable=True))
        batch_op.add_column(sa.Column('attitude', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('complaints', sa.Integer(), nullable=True))
    if sqlite:
        op.execute(
            "UPDATE monthly_metrics SET "
            f"satisfaction = CAST({field('satisfaction')} AS TEXT), "
            f"efficiency = CAST({field('efficiency')} AS TEXT), "
            f"attitude = CAST({field('attitude')} AS INTEGER), complaints = CAST({field('complaints')} AS INTEGER)"
        )
    else:
        op.execute(
            "UPDATE monthly_metrics SET "
            f"satisfaction = {field('satisfaction')}::numeric, efficiency = {field('efficiency')}::numeric, "
            f"attitude = {field('attitude')}::numeric::integer, complaints = {field('complaints')}::numeric::integer"
        )
    with op.batch_alter_table('monthly_metrics', schema=None) as batch_op:
        for name in ("satisfaction", "efficiency"):
            batch_op.alter_column(name, existing_type=starlevel.db.models.ExactDecimal(), nullable=False)
        for name in ("attitude", "complaints"):
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('values')
