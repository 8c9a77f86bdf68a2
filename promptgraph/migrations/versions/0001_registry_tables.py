"""Registry tables: workspaces, users, keys, prompts, versions, revisions, tags, labels, integrations

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def name_string(length: int) -> sa.types.TypeEngine[str]:
    """Byte-order collation on PostgreSQL, as in promptgraph.models.types."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('workspace',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', name_string(64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workspace')),
    sa.UniqueConstraint('name', name=op.f('uq_workspace_name'))
    )
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', name_string(128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_app_user_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_app_user_workspace_name')
    )
    op.create_table('integration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', name_string(128), nullable=False),
    sa.Column('provider', name_string(128), nullable=False),
    sa.Column('models', JSON_DOCUMENT, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_integration_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration')),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_integration_workspace_name')
    )
    op.create_table('prompt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', name_string(128), nullable=False),
    sa.Column('type', name_string(8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("type IN ('TEXT', 'CHAT')", name=op.f('ck_prompt_type')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_prompt_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt')),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_prompt_workspace_name')
    )
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', name_string(32), nullable=False),
    sa.Column('secret_sha256', name_string(64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('role', name_string(16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('VIEWER', 'EDITOR', 'ADMIN')", name=op.f('ck_api_key_role')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_key_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_api_key_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_api_key_public_id'))
    )
    op.create_index(op.f('ix_api_key_user_id'), 'api_key', ['user_id'])
    op.create_index(op.f('ix_api_key_workspace_id'), 'api_key', ['workspace_id'])

    op.create_table('prompt_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('template_text', sa.Text(), nullable=True),
    sa.Column('messages', JSON_DOCUMENT, nullable=True),
    sa.Column('variables', JSON_DOCUMENT, nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('llm_config', JSON_DOCUMENT, nullable=True),
    sa.Column('tools', JSON_DOCUMENT, nullable=True),
    sa.Column('response_format', JSON_DOCUMENT, nullable=True),
    sa.Column('meta', JSON_DOCUMENT, nullable=False),
    sa.Column('models', JSON_DOCUMENT, nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', name_string(128), nullable=False),
    sa.CheckConstraint('version >= 1', name=op.f('ck_prompt_version_version_positive')),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], name=op.f('fk_prompt_version_prompt_id_prompt'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_version')),
    sa.UniqueConstraint('prompt_id', 'version', name='uq_prompt_version_prompt_version')
    )
    op.create_table('prompt_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('name', name_string(63), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], name=op.f('fk_prompt_label_prompt_id_prompt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['prompt_version.id'], name=op.f('fk_prompt_label_version_id_prompt_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_label')),
    sa.UniqueConstraint('prompt_id', 'name', name='uq_prompt_label_prompt_name')
    )
    op.create_index(op.f('ix_prompt_label_version_id'), 'prompt_label', ['version_id'])

    op.create_table('prompt_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('template_text', sa.Text(), nullable=True),
    sa.Column('messages', JSON_DOCUMENT, nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaced_by', name_string(128), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['prompt_version.id'], name=op.f('fk_prompt_revision_version_id_prompt_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_revision'))
    )
    op.create_index(op.f('ix_prompt_revision_version_id'), 'prompt_revision', ['version_id'])

    op.create_table('version_tag',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('tag', name_string(64), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['prompt_version.id'], name=op.f('fk_version_tag_version_id_prompt_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'tag', name=op.f('pk_version_tag'))
    )
    op.create_index('ix_version_tag_tag', 'version_tag', ['tag', 'version_id'])



def downgrade() -> None:
    op.drop_index('ix_version_tag_tag', table_name='version_tag')

    op.drop_table('version_tag')
    op.drop_index(op.f('ix_prompt_revision_version_id'), table_name='prompt_revision')

    op.drop_table('prompt_revision')
    op.drop_index(op.f('ix_prompt_label_version_id'), table_name='prompt_label')

    op.drop_table('prompt_label')
    op.drop_table('prompt_version')
    op.drop_index(op.f('ix_api_key_workspace_id'), table_name='api_key')
    op.drop_index(op.f('ix_api_key_user_id'), table_name='api_key')

    op.drop_table('api_key')
    op.drop_table('prompt')
    op.drop_table('integration')
    op.drop_table('app_user')
    op.drop_table('workspace')
