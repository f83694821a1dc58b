"""Operations whose slow part runs between two short transactions.

Signing (the key's CPU work, the time-stamp, the revocation data of B-LT), rendering and verifying take from
tens of milliseconds to seconds. Done inside a transaction they hold a pooled connection and, on SQLite,
the database's one write lock the whole time, so a burst of signatures leaves the pool's connections idle
in transaction and every other request waits. Such an operation is therefore written in three parts:

1. ``prepare(session)`` in a first transaction: check permissions and state, lock (``FOR UPDATE``) the rows
   whose change would spoil the work, read what the work needs, unlock the key. What must be kept even if
   the operation ends here (a counted wrong PIN) commits with it. It returns a :class:`Work`, which owns
   whatever must stay open while it runs (a PKCS#11 token session).
2. ``work.run()`` with no transaction and no connection held.
3. ``record(session, work)`` in a second transaction: lock what changes, check that what ``prepare`` saw
   still holds, and write the state change with its audit event, its revision and its outbox event, all in
   that one transaction. If it no longer holds (another signature extended the document meanwhile),
   ``record`` raises :class:`Stale` and the operation starts again from ``prepare``; nothing of the stale
   attempt is kept.

The last of :data:`ATTEMPTS` attempts runs all three parts in one transaction, so the locks ``prepare`` took
are held through the work and it cannot go stale: under contention (ten clerks numbering at once, every
member of a countersigning stage signing the same minute) an operation waits its turn as it would with
plain locking, instead of failing; without contention no connection is held while the work runs.

Nothing a client can see exists before ``record`` commits: the signed PDF is returned, stored or numbered
only then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from .db import Database
from .errors import Conflict

ATTEMPTS = 3


class Work(Protocol):
    def run(self) -> None:
        """The slow part; it keeps its result for ``record``."""

    def close(self) -> None:
        """Releases what ``prepare`` left open for the work, whether it ran or not."""


W = TypeVar("W", bound=Work)
R = TypeVar("R")


class Stale(Conflict):
    """What ``prepare`` saw changed before ``record`` could write: start again."""

    code = "concurrent_change"


class Nothing:
    """Work for an operation with no slow part: ``record`` does everything."""

    def run(self) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class Phases(Generic[W, R]):
    """An operation in the parts described above."""

    prepare: Callable[[Session], W]
    record: Callable[[Session, W], R]


def run(database: Database, phases: Phases[W, R]) -> R:
    """Prepare, run and record the operation as described above."""
    for _ in range(ATTEMPTS - 1):
        with database.transaction() as session:
            work = phases.prepare(session)
        _work(work)
        try:
            with database.transaction() as session:
                return phases.record(session, work)
        except Stale:
            continue
    with database.transaction() as session:
        work = phases.prepare(session)
        _work(work)
        return phases.record(session, work)


def _work(work: Work) -> None:
    try:
        work.run()
    finally:
        work.close()
