"""Index traces by trace id, with their outcome, for the metrics of versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On PostgreSQL the outcome columns ride along (INCLUDE), so the metrics' probes by trace
    # id are index-only; SQLite ignores the option and gets a plain index on trace_id.
    op.create_index(
        'ix_trace_outcome',
        'trace',
        ['trace_id'],
        postgresql_include=['workspace_id', 'status', 'cost_usd', 'latency_ms', 'started_at'],
    )


def downgrade() -> None:
    op.drop_index('ix_trace_outcome', table_name='trace')
