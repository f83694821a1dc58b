"""A small loop that runs background jobs (webhook deliveries, circulation's sweeps) until it is stopped.

A job is any ``job(database) -> int`` that does one round of work in its own transactions and returns how
much it did. The loop runs every job in turn; when a whole round did nothing it sleeps for
``idle_seconds`` (a stop wakes it at once). Jobs claim their work with ``FOR UPDATE SKIP LOCKED``, so any
number of workers, in any number of processes, can run the same jobs side by side.

``esign worker`` runs :func:`run_until_signalled` in the foreground: SIGTERM or SIGINT lets the round in
progress finish (webhook calls are bounded by their timeout) and then returns. ``esign serve`` runs the same
loop in a background thread with :func:`start_background`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from esign.db import Database

logger = logging.getLogger("esign.worker")

Job = Callable[[Database], int]
"""One round of some background work; returns how much it did (0: nothing to do)."""


@dataclass(frozen=True)
class WorkerOptions:
    idle_seconds: float = 1.0
    """Sleep after a round in which no job found work."""
    error_seconds: float = 5.0
    """Sleep after a job failed on the database (unreachable, failing over), before trying again."""


def job_name(job: Job) -> str:
    return getattr(job, "__name__", None) or repr(job)


def run(
    database: Database, jobs: Sequence[Job], *, stop: threading.Event, options: WorkerOptions = WorkerOptions()
) -> None:
    """Run rounds until ``stop`` is set.

    A database error (the server restarting, a failover) is logged and retried after ``error_seconds``:
    the jobs' claims are transactional, so a failed round leaves nothing half done. Any other exception
    is a bug and ends the loop, loudly, rather than spinning on it.
    """
    names = ", ".join(job_name(job) for job in jobs)
    logger.info("worker started: %s", names or "no jobs")
    while not stop.is_set():
        done = 0
        failed = False
        for job in jobs:
            if stop.is_set():
                break
            try:
                done += job(database)
            except SQLAlchemyError as e:
                logger.error("worker job %s failed on the database: %s", job_name(job), e)
                failed = True
        if failed:
            stop.wait(options.error_seconds)
        elif done == 0:
            stop.wait(options.idle_seconds)
    logger.info("worker stopped")


def run_until_signalled(database: Database, jobs: Sequence[Job], *, options: WorkerOptions = WorkerOptions()) -> None:
    """:func:`run` in the main thread until SIGTERM or SIGINT; the previous handlers are restored after."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("worker: %s received, stopping after this round", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        run(database, jobs, stop=stop, options=options)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class BackgroundWorker:
    thread: threading.Thread
    stopping: threading.Event

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Ask the loop to stop and wait for the round in progress; False if it was still running at ``timeout``."""
        self.stopping.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()


def start_background(
    database: Database, jobs: Sequence[Job], *, options: WorkerOptions = WorkerOptions()
) -> BackgroundWorker:
    """:func:`run` in a daemon thread (the embedded default of ``esign serve``); stop it with ``.stop()``."""
    stopping = threading.Event()
    thread = threading.Thread(
        target=run,
        args=(database, list(jobs)),
        kwargs={"stop": stopping, "options": options},
        name="esign-worker",
        daemon=True,
    )
    thread.start()
    return BackgroundWorker(thread=thread, stopping=stopping)
