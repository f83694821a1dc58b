"""How every API process learns, without a query per request, that a certificate may have been revoked.

The OCSP responder (``keys.responder``) keeps pre-produced answers in each process. Before serving one it
asks its signal for the current *epoch*: a number that changes whenever a revocation may have been
committed since the answer was made, by this process or any other. An answer made under another epoch is
checked against the database again. ``None`` means the process cannot tell, and nothing cached is used.

- PostgreSQL (several API processes, maybe on several machines): ``announce`` issues a NOTIFY in the
  revoking transaction, which PostgreSQL delivers to every listening connection when, and only if, that
  transaction commits. Each process has a thread listening on a connection of its own; each notification
  starts a new epoch. Before the thread listens, and whenever its connection fails, the epoch is ``None``,
  and a reconnection starts a new epoch, so a notification missed meanwhile costs nothing. The revoking
  process moves to a new epoch at its commit; the others once PostgreSQL has delivered the notification
  (milliseconds). The channel is the database's, not the schema's: a revocation in another schema only
  makes answers be re-checked.
- SQLite (one machine): ``PRAGMA data_version`` on a connection of its own, which SQLite changes whenever
  another connection, of this process or another, commits a change to the file. Any change, not only a
  revocation, starts a new epoch: answers are re-checked more often than needed, never less. A revocation
  shows in the next request after its commit.
- A database only one connection can see (in-memory SQLite): ``None`` always.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from esign.db import Database

CHANNEL = "esign_certificate_status"
"""The PostgreSQL notification channel; the payload is the certificate's serial in hex."""

_RECONNECT_S = 1.0
_POLL_S = 0.5

log = logging.getLogger(__name__)


class RevocationSignal(Protocol):
    def epoch(self) -> int | None:
        """Changes whenever a certificate's status may have changed; ``None`` when that cannot be known."""

    def close(self) -> None: ...


def announce(session: Session, serial: str) -> None:
    """Tell every process, once ``session``'s transaction commits, that ``serial``'s status changed.

    This process hears it at the commit itself rather than when the notification comes back.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, serial)))
        if not event.contains(session, "after_commit", _committed):
            event.listen(session, "after_commit", _committed)


_listeners: weakref.WeakSet[_Notifications] = weakref.WeakSet()


def _committed(_session: Session) -> None:
    for listener in list(_listeners):
        listener.advance()


def open_signal(database: Database) -> RevocationSignal:
    if database.dialect == "postgresql":
        return _Notifications(database)
    if database.files:
        return _DataVersion(database.files[0])
    return _Blind()


class _Blind:
    def epoch(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class _DataVersion:
    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()

    def epoch(self) -> int | None:
        with self._lock:
            try:
                return int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                return None

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class _Notifications:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._epochs = itertools.count(1)
        self._epoch: int | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="esign-revocation-signal", daemon=True)
        self._thread.start()
        _listeners.add(self)

    def epoch(self) -> int | None:
        return self._epoch

    def advance(self) -> None:
        """A new epoch, unless this signal cannot tell at all: only listening makes it trustworthy."""
        with self._lock:
            if self._epoch is not None:
                self._epoch = next(self._epochs)

    def _start_trusting(self) -> None:
        with self._lock:
            self._epoch = next(self._epochs)

    def _stop_trusting(self) -> None:
        with self._lock:
            self._epoch = None

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5 * _POLL_S)

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen_once()
            except (psycopg.Error, SQLAlchemyError, OSError) as e:
                log.warning("revocation notifications interrupted, OCSP answers are read afresh: %s", e)
            self._stop_trusting()
            self._stopped.wait(_RECONNECT_S)

    def _listen_once(self) -> None:
        pooled = self._database.engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()
        try:
            assert isinstance(connection, psycopg.Connection)
            connection.rollback()
            connection.autocommit = True
            connection.execute(f'LISTEN "{CHANNEL}"')
            self._start_trusting()
            while not self._stopped.is_set():
                for _ in connection.notifies(timeout=_POLL_S):
                    self.advance()
        finally:
            self._stop_trusting()
            pooled.close()
