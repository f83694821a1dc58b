"""Worker processes that parse and verify PDFs from outside, each task under a deadline and a memory cap.

Why processes, and why this small pool rather than ``concurrent.futures.ProcessPoolExecutor``: a parse that
runs away (pyhanko's parser is pure Python and trusts what a file declares) can neither be interrupted in a
thread nor bounded in memory inside the server. A process can: its address space is capped with
``RLIMIT_AS`` for the length of each task (so an allocation beyond the budget raises ``MemoryError`` in the
worker, not in the server), and a task past its deadline is ended by killing its worker, which this pool
then replaces. ``ProcessPoolExecutor`` cannot kill the one worker running a given task: breaking it ends
every task in flight and the whole pool. Pebble's ``ProcessPool`` can, but it is not a dependency, and the
part needed here is a pipe per worker.

Workers are started with ``spawn`` (no copy of the server's threads, locks or database connections), from
one long-lived thread, because ``PR_SET_PDEATHSIG`` — which makes the kernel kill a worker when its parent
goes, whatever the worker is doing — fires when the *thread* that started the child exits. The server's
lifespan closes the pool, which kills the workers; both together mean no worker outlives the server.

Admission is bounded: ``workers`` tasks run, ``queue`` more may wait; past that, or after waiting a whole
deadline for a worker, :class:`~esign.errors.Busy` is raised at once (the API answers 503 with
``Retry-After``), so heavy uploads cannot take every thread of the server from cheap requests.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import pickle
import resource
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from . import children
from .errors import Busy, PdfTooComplex

T = TypeVar("T")

_MIB = 1024 * 1024
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class PoolOptions:
    workers: int = 2
    queue: int = 8
    timeout_s: float = 20.0
    memory_mb: int = 512
    tasks_per_worker: int = 10_000
    """A worker is replaced after this many tasks, so slow fragmentation cannot creep its baseline up. Each
    replacement costs a new interpreter's imports (about a second of CPU): at 500, that was a tenth of the
    cost of an ordinary verification."""
    retire_above_mb: int = 320
    """A worker whose resident memory exceeds this after a task is replaced, so one large or hostile PDF does
    not leave hundreds of MiB held for good (an idle worker holds about 130 MiB)."""
    preload: tuple[str, ...] = ("esign.verify",)
    """Modules a worker imports when it starts, so its first task does not pay for them."""


def _statm(field: int) -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[field]) * os.sysconf("SC_PAGE_SIZE")


def _address_space() -> int:
    return _statm(0)


def _worker_main(conn: Connection, parent: int, memory_mb: int, preload: tuple[str, ...], retire_mb: int) -> None:
    """A worker's loop: receive ``(function, args)``, answer ``(status, value, retiring)``; exit on EOF, after
    running out of memory, or when it holds more than ``retire_mb`` (``retiring``)."""
    children.die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server decides
    for module in preload:
        importlib.import_module(module)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        cap = _address_space() + memory_mb * _MIB
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        try:
            answer: tuple[str, object] = ("ok", function(*args))
        except MemoryError:
            answer = ("memory", None)
        except BaseException as e:
            answer = ("error", e)
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        retiring = answer[0] == "memory" or _statm(1) > retire_mb * _MIB
        try:
            conn.send((*answer, retiring))
        except (
            pickle.PicklingError,
            TypeError,
            AttributeError,
        ) as e:  # an answer that does not pickle; nothing was sent
            conn.send(("error", RuntimeError(f"{type(e).__name__}: {e}"), retiring))
        if retiring:
            return  # what ran out of memory may have left the interpreter in any state


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: int = 0


class ParsingPool:
    def __init__(self, options: PoolOptions = PoolOptions()) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._starting = 0
        self._workers: list[_Worker] = []
        self._free = threading.Semaphore(options.workers)
        self._admitted = threading.BoundedSemaphore(options.workers + options.queue)
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="esign-parsing-spawner")
        self._closed = threading.Event()

    # --- workers -------------------------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        """Runs in the spawner thread only (see the module's docstring on ``PR_SET_PDEATHSIG``)."""
        ours, theirs = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(theirs, os.getpid(), self.options.memory_mb, self.options.preload, self.options.retire_above_mb),
            name="esign-parsing-worker",
            daemon=True,
        )
        try:
            process.start()
        finally:
            theirs.close()
            with self._lock:
                self._starting -= 1
        worker = _Worker(process, ours)
        with self._lock:
            self._workers.append(worker)
        if self._closed.is_set():
            self._end(worker)
        return worker

    def _end(self, worker: _Worker) -> None:
        """Kill first: a thread waiting on the worker's pipe then sees end-of-file."""
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        with contextlib.suppress(Exception):
            worker.conn.close()
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)

    def _checkout(self) -> _Worker:
        """An idle worker, or a new one; the caller holds one of the ``workers`` slots, so one is due."""
        while True:
            with self._lock:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.process.is_alive():
                        return worker
                    self._workers.remove(worker)
                missing = self.options.workers - len(self._workers) - self._starting
                if missing > 0:
                    self._starting += missing
            if missing > 0:
                own = self._spawner.submit(self._spawn)
                # Starting one, start the others meanwhile: the next requests will need them.
                for _ in range(missing - 1):
                    self._spawner.submit(self._spawn_idle)
                try:
                    return own.result()
                except CancelledError:
                    raise Busy("the server is shutting down") from None
            if self._closed.wait(0.05):
                raise Busy("the server is shutting down")

    def _spawn_idle(self) -> None:
        worker = self._spawn()
        with self._lock:
            if not self._closed.is_set():
                self._idle.append(worker)

    def _checkin(self, worker: _Worker, *, retiring: bool) -> None:
        worker.tasks += 1
        if retiring or worker.tasks >= self.options.tasks_per_worker or self._closed.is_set():
            self._end(worker)
            return
        with self._lock:
            self._idle.append(worker)

    # --- tasks ---------------------------------------------------------------------------------------
    def _wait_for_free(self) -> None:
        waited = 0.0
        while not self._free.acquire(timeout=0.2):
            waited += 0.2
            if self._closed.is_set():
                raise Busy("the server is shutting down")
            if waited >= self.options.timeout_s:
                raise Busy(f"every PDF worker has been busy for {self.options.timeout_s:g} s; try again later")

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker; raises ``Busy``, ``PdfTooComplex``, or what ``function`` raised.

        ``function`` must be a module-level function, and its arguments and result must pickle.
        """
        if self._closed.is_set():
            raise Busy("the server is shutting down")
        if not self._admitted.acquire(blocking=False):
            raise Busy("too many PDFs are being parsed; try again later")
        try:
            self._wait_for_free()
            try:
                return self._call(self._checkout(), function, args)
            finally:
                self._free.release()
        finally:
            self._admitted.release()

    def _call(self, worker: _Worker, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        timeout = self.options.timeout_s
        try:
            worker.conn.send((function, args))
            if not worker.conn.poll(timeout):
                self._end(worker)
                raise PdfTooComplex("time", f"parsing the PDF took longer than the limit of {timeout:g} s")
            status, value, retiring = worker.conn.recv()
        except (EOFError, OSError) as e:
            self._end(worker)
            if self._closed.is_set():
                raise Busy("the server is shutting down") from e
            raise PdfTooComplex("memory", "the PDF's parser exhausted its worker (memory or stack)") from e
        if status == "memory":
            self._end(worker)
            raise PdfTooComplex("memory", f"parsing the PDF needed more than the limit of {self.options.memory_mb} MiB")
        self._checkin(worker, retiring=retiring)
        if status == "error":
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[no-any-return]

    def pids(self) -> Iterable[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self) -> None:
        """Kills every worker, a task's included: what waits on one gets ``Busy``."""
        self._closed.set()
        with self._lock:
            workers = list(self._workers)
            self._idle.clear()
        for worker in workers:
            self._end(worker)
        self._spawner.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            late = list(self._workers)
        for worker in late:
            self._end(worker)
