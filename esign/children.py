"""Child processes that end with the process that started them, however it ends.

A server stopped by SIGTERM or SIGINT shuts its children down in its lifespan (uvicorn then re-raises the
signal, so no ``atexit`` handler runs after it). A server killed outright (SIGKILL, the OOM killer) runs
nothing at all: for that, each child asks the kernel at its start to be killed when its parent goes
(``die_with_parent``, Linux's ``PR_SET_PDEATHSIG``), and multiprocessing's resource tracker, which exits
when the last process holding its pipe is gone, follows.

The kernel's "parent" there is the *thread* that started the child, not the process: a child started from
a short-lived thread (a request's thread in the server's pool, retired after a few idle seconds) would be
killed with it. So children are started through ``from_lasting_thread``, on one thread kept for the life
of the process.

The usage, for a ``concurrent.futures`` pool::

    def start() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(mp_context=get_context("spawn"), initializer=die_with_parent,
                                   initargs=(os.getpid(),))
        pool.submit(int).result()  # spawns the worker(s) now, on this thread
        return pool

    pool = from_lasting_thread(start)

This module is imported by children at their start: the standard library only.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Call first thing in a child: the kernel sends ``sig`` to it when the thread that started it ends.
    SIGKILL by default, since nothing a child of the server is doing is worth finishing without it, and
    SIGKILL cannot be caught or ignored. ``parent_pid`` closes the race of a parent gone before this call.

    Outside Linux there is no such request; the child then relies on its parent's orderly shutdown."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


_Request = tuple[Callable[[], Any], "Future[Any]"]
_requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def from_lasting_thread(start: Callable[[], T]) -> T:
    """``start()``, run on a thread that lives as long as this process, and its result (or its exception).
    Start children from it for ``die_with_parent`` to kill them with the process and not with a thread."""
    thread = _lasting_thread()
    if threading.current_thread() is thread:
        return start()
    future: Future[T] = Future()
    _requests.put((start, future))
    return future.result()


def _lasting_thread() -> threading.Thread:
    global _thread
    with _thread_lock:
        # After a fork, the thread of the parent is not running in the child: is_alive() says so.
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="esign-children", daemon=True)
            _thread.start()
        return _thread


def _serve() -> None:
    """Never returns: a daemon thread, stopped only when the interpreter exits, as the process does."""
    while True:
        start, future = _requests.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(start())
        except BaseException as e:  # handed to the caller, who re-raises it
            future.set_exception(e)
