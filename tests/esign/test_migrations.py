from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import migrations.models  # noqa: F401  (registers every table on Base.metadata)
from esign.db import Base, Database
from migrations import migrate

KERNEL_TABLES = {"audit_heads", "audit_events"}
HEAD = ScriptDirectory.from_config(migrate._config()).get_current_head()


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def test_upgrade_creates_the_tables_on_a_fresh_database(
    new_database: Callable[[], Database],
) -> None:
    database = new_database()
    assert migrate.current(database) is None
    assert _tables(database) == set()

    migrate.upgrade(database)

    assert migrate.current(database) == HEAD
    assert _tables(database) == set(Base.metadata.tables) | {"alembic_version"}
    assert _tables(database) >= KERNEL_TABLES


def test_upgrading_twice_is_a_no_op(new_database: Callable[[], Database]) -> None:
    database = new_database()
    migrate.upgrade(database)
    with database.transaction() as session:
        session.execute(text("INSERT INTO audit_heads (chain, seq, hash) VALUES ('x', 0, :h)"), {"h": "0" * 64})

    migrate.upgrade(database)

    assert migrate.current(database) == HEAD
    with database.transaction() as session:
        assert session.execute(text("SELECT chain FROM audit_heads")).scalars().all() == ["x"]


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_tables_live_in_the_configured_schema(database: Database) -> None:
    inspector = inspect(database.engine)
    if database.dialect == "postgresql":
        assert database.schema is not None
        assert set(inspector.get_table_names(schema=database.schema)) >= KERNEL_TABLES
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW search_path").scalar() == database.schema
    else:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert set(inspector.get_table_names()) >= KERNEL_TABLES
