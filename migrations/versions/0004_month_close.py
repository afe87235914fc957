"""month close, payroll snapshots, review outcomes

Revision ID: 0002_month_close
Revises: 0003_generic_metrics
Create Date: 2026-11-27 08:20:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import starlevel.db.models


revision = '0002_month_close'
down_revision = '0003_generic_metrics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('month_closes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=False),
    sa.Column('closed_by', sa.String(length=100), nullable=False),
    sa.Column('incomplete_confirmed', sa.JSON(), nullable=False),
    sa.Column('reopened_at', sa.DateTime(), nullable=True),
    sa.Column('reopened_by', sa.String(length=100), nullable=True),
    sa.Column('reopen_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_month_closes'))
    )
    with op.batch_alter_table('month_closes', schema=None) as batch_op:
        batch_op.create_index('ix_month_closes_month', ['month'], unique=False)

    op.create_table('payroll_snapshots',
    sa.Column('close_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('track', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('pay_grade', sa.String(length=16), nullable=True),
    sa.Column('on_probation', sa.Boolean(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('composite', starlevel.db.models.ExactDecimal(6, 2), nullable=True),
    sa.Column('coefficient', starlevel.db.models.ExactDecimal(6, 2), nullable=True),
    sa.Column('probation_factor', starlevel.db.models.ExactDecimal(6, 4), nullable=True),
    sa.Column('fixed_pay', starlevel.db.models.ExactDecimal(12, 2), nullable=True),
    sa.Column('performance_pay', starlevel.db.models.ExactDecimal(12, 2), nullable=True),
    sa.Column('allowance', starlevel.db.models.ExactDecimal(12, 2), nullable=True),
    sa.Column('total_pay', starlevel.db.models.ExactDecimal(12, 2), nullable=True),
    sa.ForeignKeyConstraint(['close_id'], ['month_closes.id'], name=op.f('fk_payroll_snapshots_close_id_month_closes')),
    sa.PrimaryKeyConstraint('close_id', 'agent_id', name=op.f('pk_payroll_snapshots'))
    )
    with op.batch_alter_table('payroll_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_payroll_snapshots_month', ['month'], unique=False)

    op.create_table('review_outcomes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('voided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.agent_id'], name=op.f('fk_review_outcomes_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_outcomes'))
    )
    with op.batch_alter_table('review_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_review_outcomes_agent_month', ['agent_id', 'month'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_review_outcomes_agent_month')
    op.drop_table('review_outcomes')
    with op.batch_alter_table('payroll_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_payroll_snapshots_month')
    op.drop_table('payroll_snapshots')
    with op.batch_alter_table('month_closes', schema=None) as batch_op:
        batch_op.drop_index('ix_month_closes_month')
    op.drop_table('month_closes')
