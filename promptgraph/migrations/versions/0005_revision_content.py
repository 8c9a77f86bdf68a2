"""Revisions keep every content field: model config, tools, response format, metadata, models

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Revisions written before this kept only the template and the description; what the
    # other fields held then was not recorded, so they get the empty values a version gets
    # when a field is not given (null, {} for metadata, [] for models). The server defaults
    # fill the existing rows and are dropped after: new rows always say what they hold.
    with op.batch_alter_table('prompt_revision') as batch:
        batch.add_column(sa.Column('llm_config', JSON_DOCUMENT, nullable=True))
        batch.add_column(sa.Column('tools', JSON_DOCUMENT, nullable=True))
        batch.add_column(sa.Column('response_format', JSON_DOCUMENT, nullable=True))
        batch.add_column(
            sa.Column('meta', JSON_DOCUMENT, nullable=False, server_default=sa.text("'{}'"))
        )
        batch.add_column(
            sa.Column('models', JSON_DOCUMENT, nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table('prompt_revision') as batch:
        batch.alter_column('meta', server_default=None)
        batch.alter_column('models', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('prompt_revision') as batch:
        batch.drop_column('models')
        batch.drop_column('meta')
        batch.drop_column('response_format')
        batch.drop_column('tools')
        batch.drop_column('llm_config')
