"""The declarative base every package's models share, and the engine/session owner.

Services receive a ``Session`` and never commit; whoever calls them (a route, a CLI command,
a worker job) opens ``Database.transaction()`` so that a change, its audit event and its
outbox event commit together or not at all.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from esign.errors import EsignError
from esign.filemodes import create_private, narrow_if_present, private_directory

if TYPE_CHECKING:
    from esign.settings import Settings

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_S = 30
READING = "esign_reading"
"""Execution option of the connections ``Database.reading`` hands out."""
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside the database, holding the same data."""

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend: SQLite stores no zone and hands back naive values,
    which this reads as the UTC they were written in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


def among(
    session: Session, column: ColumnElement[str] | QueryableAttribute[str], values: Iterable[str]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one parameter, however many values (an
    expanded IN of a thousand ids costs more to build, send and parse than the query it asks)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements on hot paths (bulk inserts, claims) that skip the unit of work."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Database:
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url: URL = _normalise_url(make_url(url))
        self.schema = schema
        backend = self.url.get_backend_name()
        if backend == "sqlite":
            if schema is not None:
                raise ValueError("a database schema can only be set for PostgreSQL")
            self.engine: Engine = _sqlite_engine(self.url)
        elif backend == "postgresql":
            self.engine = _postgresql_engine(self.url, schema)
        else:
            raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        reading: dict[str, bool] = {READING: True}
        if backend == "postgresql":
            reading["postgresql_readonly"] = True
        self._readers = sessionmaker(self.engine.execution_options(**reading), expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.effective_database_url, schema=settings.database_schema)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def files(self) -> tuple[Path, ...]:
        """The SQLite database file and the siblings SQLite may keep beside it; none for PostgreSQL."""
        database = self.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
            return ()
        path = Path(database).expanduser()
        return (path, *(path.with_name(path.name + sibling) for sibling in SQLITE_SIBLINGS))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises,
        except for a domain error marked ``keeps_changes``, which commits first."""
        with self._sessions.begin() as session:
            try:
                yield session
            except EsignError as e:
                if e.keeps_changes:
                    session.commit()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session in one transaction that only reads.

        On SQLite it begins without the write lock (``BEGIN``, not ``BEGIN IMMEDIATE``) and refuses to write
        (``PRAGMA query_only``): it reads a snapshot (WAL) and never waits for a writer, nor makes one wait. On
        PostgreSQL, where readers never wait for writers anyway, it is a ``READ ONLY`` transaction, so that a write
        in it fails on both alike."""
        with self._readers.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        schema = f", schema={self.schema!r}" if self.schema else ""
        return f"Database({self.url.render_as_string(hide_password=True)!r}{schema})"


def _normalise_url(url: URL) -> URL:
    """Plain ``postgresql://`` URLs would pick psycopg2, which is not a dependency."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    path: Path | None = None
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        # The file holds the PIN-wrapped keys: it is created 0600 here, before SQLite would create it under
        # the umask (0644), and SQLite gives its -wal and -shm the database file's own mode.
        private_directory(path.parent)
        create_private(path)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # pysqlite's own BEGIN handling is switched off; _on_begin below emits BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        if path is not None:
            for sibling in SQLITE_SIBLINGS:
                narrow_if_present(path.with_name(path.name + sibling))

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Taking the write lock up front makes concurrent writers queue instead of failing with SQLITE_BUSY
        # when a read transaction later tries to upgrade to a write.
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        if connection.get_execution_options().get(READING):
            driver.execute("PRAGMA query_only = 1")
            driver.execute("BEGIN")
            return
        driver.execute("PRAGMA query_only = 0")
        begin_immediate(driver)

    return engine


SQLITE_RETRY_S = 0.0005


def begin_immediate(connection: sqlite3.Connection, *, timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> None:
    """``BEGIN IMMEDIATE``, tried again every half millisecond while another connection holds the write lock,
    for up to ``timeout_s``.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms between tries.
    Under a steady stream of short write transactions (a signature through a signing session makes two), a
    waiter slept through the moments the lock was free: the CPUs idled up to a quarter of the time in
    ``bench/sign_http.py`` with two server processes, and more clients made it slower.
    """
    connection.execute("PRAGMA busy_timeout = 0")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(SQLITE_RETRY_S)
    finally:
        connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")


def _postgresql_engine(url: URL, schema: str | None) -> Engine:
    existing = url.query.get("options")
    options = [existing] if isinstance(existing, str) else list(existing or ())
    if not any("jit" in option for option in options):
        # JIT compilation pays for long analytical queries, not for these: a register search whose plan was
        # estimated costly (a LIMIT over a filtered index scan) spent 680 ms compiling for 10 ms of work.
        options.append("-cjit=off")
    if schema is not None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"invalid schema name {schema!r}: use lowercase letters, digits and underscores")
        # Only the schema, not "schema,public": otherwise a table missing from the schema
        # (alembic_version on a fresh schema) would silently resolve to public's copy.
        options.append(f"-csearch_path={schema}")
    return create_engine(url, connect_args={"options": " ".join(options)}, pool_pre_ping=True)
