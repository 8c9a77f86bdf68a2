"""Alembic migrations, applied by `promptgraph serve` and `promptgraph db upgrade`."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from promptgraph.db import normalize_url

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = normalize_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply pending migrations. Blocking: call it outside the event loop."""
    command.upgrade(alembic_config(database_url), revision)
