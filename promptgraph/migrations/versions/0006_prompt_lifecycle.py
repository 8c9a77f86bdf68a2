"""Prompt lifecycle: every name a prompt answers to (prompt_alias), deleted version numbers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


def name_string(length: int) -> sa.types.TypeEngine[str]:
    """Byte-order collation on PostgreSQL, as in promptgraph.models.types."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('prompt_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', name_string(128), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], name=op.f('fk_prompt_alias_prompt_id_prompt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_prompt_alias_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_alias')),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_prompt_alias_workspace_name')
    )
    op.create_index(op.f('ix_prompt_alias_prompt_id'), 'prompt_alias', ['prompt_id'])
    # Every existing prompt answers to its own name.
    op.execute(
        'INSERT INTO prompt_alias (workspace_id, name, prompt_id) '
        'SELECT workspace_id, name, id FROM prompt'
    )
    with op.batch_alter_table('prompt') as batch:
        batch.add_column(
            sa.Column('highest_deleted_version', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('prompt') as batch:
        batch.drop_column('highest_deleted_version')
    op.drop_index(op.f('ix_prompt_alias_prompt_id'), table_name='prompt_alias')
    op.drop_table('prompt_alias')
