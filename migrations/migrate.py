"""Schema migrations, run through alembic on a ``Database``'s own engine.

This runner lives beside the history rather than in the kernel: the history spans every package's tables
(``migrations/models.py`` imports them all), so running it depends on all of them.

Going through the ``Database`` keeps its connection set-up (SQLite pragmas and
``BEGIN IMMEDIATE``, the PostgreSQL ``search_path``), so migrations land where the service reads.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from esign.db import Database


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate to ``revision`` in one transaction; running it again is a no-op."""
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            _prepare_postgresql(connection, db.schema)
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(db: Database) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.set_main_option("path_separator", "os")
    return config


def _prepare_postgresql(connection: Connection, schema: str | None) -> None:
    """Serialise concurrent upgrades of the same schema and create the schema if it is missing."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"migrations.migrate:{schema or ''}"},
    )
    if schema is None:
        return
    exists = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}).first()
    if exists is None:
        # The name was validated by Database (lowercase identifier), so quoting is not needed.
        connection.execute(text(f"CREATE SCHEMA {schema}"))
