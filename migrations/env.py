"""Alembic environment: one migration history for every package's tables.

``migrations.migrate`` passes an open connection in ``config.attributes["connection"]``; the
``alembic`` command line (for ``alembic revision --autogenerate``) gets none, and then the
database comes from ``esign.settings.Settings`` like everywhere else.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

import migrations.models  # noqa: F401  (registers every table on Base.metadata)
from esign.db import Base, Database
from esign.settings import Settings

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=Settings().effective_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    database = Database.from_settings(Settings())
    try:
        with database.engine.begin() as owned:
            run_with(owned)
    finally:
        database.dispose()


if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
