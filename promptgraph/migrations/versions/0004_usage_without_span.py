"""A usage without a span has a NULL span id instead of the zero UUID, so a client's
all-zero span id no longer merges with "no span"

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZERO_SPAN = uuid.UUID(int=0)
NO_SPAN_WHERE = sa.text('span_id IS NULL')
usage = sa.table('usage', sa.column('span_id', sa.Uuid()))


def upgrade() -> None:
    with op.batch_alter_table('usage') as batch:
        batch.alter_column('span_id', existing_type=sa.Uuid(), nullable=True)
    # Until now the zero UUID meant "no span" (a client's zero span id merged with it, so
    # such rows cannot be told apart any more): they all become "no span".
    op.execute(usage.update().where(usage.c.span_id == ZERO_SPAN).values(span_id=None))
    op.create_index(
        'uq_usage_version_trace_no_span',
        'usage',
        ['version_id', 'trace_id'],
        unique=True,
        sqlite_where=NO_SPAN_WHERE,
        postgresql_where=NO_SPAN_WHERE,
    )


def downgrade() -> None:
    op.drop_index('uq_usage_version_trace_no_span', table_name='usage')
    # A zero span next to "no span" on the same (version, trace) cannot both survive.
    op.execute(
        sa.text(
            'DELETE FROM usage WHERE span_id IS NULL AND EXISTS (SELECT 1 FROM usage AS other '
            'WHERE other.version_id = usage.version_id AND other.trace_id = usage.trace_id '
            'AND other.span_id = :zero)'
        ).bindparams(sa.bindparam('zero', ZERO_SPAN, type_=sa.Uuid()))
    )
    op.execute(usage.update().where(usage.c.span_id.is_(None)).values(span_id=ZERO_SPAN))
    with op.batch_alter_table('usage') as batch:
        batch.alter_column('span_id', existing_type=sa.Uuid(), nullable=False)
