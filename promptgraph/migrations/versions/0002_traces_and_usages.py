"""Traces (outcome per trace id) and usages (trace and span used a version)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('trace',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('trace_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=8).with_variant(sa.String(length=8, collation="C"), "postgresql"), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('SUCCESS', 'ERROR')", name=op.f('ck_trace_status')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_trace_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace')),
    sa.UniqueConstraint('workspace_id', 'trace_id', name='uq_trace_workspace_trace')
    )
    op.create_table('usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('trace_id', sa.Uuid(), nullable=False),
    sa.Column('span_id', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['prompt_version.id'], name=op.f('fk_usage_version_id_prompt_version'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_usage_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage')),
    sa.UniqueConstraint('version_id', 'trace_id', 'span_id', name='uq_usage_version_trace_span')
    )
    op.create_index('ix_usage_workspace_trace', 'usage', ['workspace_id', 'trace_id'])



def downgrade() -> None:
    op.drop_index('ix_usage_workspace_trace', table_name='usage')

    op.drop_table('usage')
    op.drop_table('trace')
