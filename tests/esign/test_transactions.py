"""Transactions: writers on the embedded SQLite database queue for its one write lock (``esign.db.begin_immediate``),
and ``Database.reading`` neither takes it nor writes, on SQLite or PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from esign.db import SQLITE_BUSY_TIMEOUT_S, Database, begin_immediate


def _database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'esign.db'}")
    with database.transaction() as session:
        session.execute(text("CREATE TABLE marks (n INTEGER)"))
    return database


def test_a_writer_waits_for_the_one_holding_the_lock_and_then_sees_its_write(tmp_path: Path) -> None:
    database = _database(tmp_path)
    holding, waiting_done = threading.Event(), threading.Event()
    release = threading.Event()
    seen: list[list[int]] = []

    def holder() -> None:
        with database.transaction() as session:
            session.execute(text("INSERT INTO marks VALUES (1)"))
            holding.set()
            release.wait(10)

    def waiter() -> None:
        holding.wait(10)
        with database.transaction() as session:
            seen.append(list(session.execute(text("SELECT n FROM marks")).scalars()))
            session.execute(text("INSERT INTO marks VALUES (2)"))
        waiting_done.set()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    assert holding.wait(10)
    assert not waiting_done.wait(0.2), "the second writer began while the first held the write lock"
    release.set()
    for thread in threads:
        thread.join(10)
    assert waiting_done.is_set()
    assert seen == [[1]]
    with database.transaction() as session:
        assert list(session.execute(text("SELECT n FROM marks ORDER BY n")).scalars()) == [1, 2]
    database.dispose()


def test_a_writer_gives_up_after_its_timeout_and_keeps_the_busy_timeout(tmp_path: Path) -> None:
    database = _database(tmp_path)
    path = tmp_path / "esign.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    mine = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            begin_immediate(mine, timeout_s=0.05)
        assert mine.execute("PRAGMA busy_timeout").fetchone() == (SQLITE_BUSY_TIMEOUT_S * 1000,)
        assert not mine.in_transaction
        other.execute("COMMIT")
        begin_immediate(mine, timeout_s=0.05)
        assert mine.in_transaction
        assert mine.execute("PRAGMA busy_timeout").fetchone() == (SQLITE_BUSY_TIMEOUT_S * 1000,)
        mine.execute("COMMIT")
    finally:
        other.close()
        mine.close()
        database.dispose()


def test_a_reader_neither_waits_for_a_writer_nor_can_write(tmp_path: Path) -> None:
    database = _database(tmp_path)
    with database.transaction() as session:
        session.execute(text("INSERT INTO marks VALUES (1)"))
    with database.transaction() as writing:
        writing.execute(text("INSERT INTO marks VALUES (2)"))
        read: list[list[int]] = []
        reader = threading.Thread(
            target=lambda: read.append(_marks(database)),
        )
        reader.start()
        reader.join(5)
        assert not reader.is_alive(), "the reader waited for the writer"
        assert read == [[1]], "the reader saw a write that was not committed"
    with pytest.raises(OperationalError, match="readonly"), database.reading() as session:
        session.execute(text("INSERT INTO marks VALUES (3)"))
    with database.transaction() as session:  # the same pooled connection writes again
        session.execute(text("INSERT INTO marks VALUES (4)"))
    assert _marks(database) == [1, 2, 4]
    database.dispose()


def _marks(database: Database) -> list[int]:
    with database.reading() as session:
        return list(session.execute(text("SELECT n FROM marks ORDER BY n")).scalars())


def test_reading_refuses_to_write_on_either_database(db: Database) -> None:
    insert = text("INSERT INTO audit_heads (chain, seq, hash) VALUES ('reading', 0, :h)")
    with pytest.raises(DBAPIError, match="read"), db.reading() as session:
        session.execute(insert, {"h": "0" * 64})
    with db.reading() as session:
        assert session.execute(text("SELECT count(*) FROM audit_heads WHERE chain = 'reading'")).scalar() == 0
    with db.transaction() as session:  # the pooled connection is writable again
        session.execute(insert, {"h": "0" * 64})
    with db.reading() as session:
        assert session.execute(text("SELECT count(*) FROM audit_heads WHERE chain = 'reading'")).scalar() == 1
