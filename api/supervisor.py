"""``esign serve --workers N``: one supervising process accepts every connection and hands it to N server
processes in turn.

uvicorn's supervisor lets its processes share the listening socket, and the kernel gives each new connection
to whichever process wakes first. When they are idle that is mostly the same one, so a few keep-alive clients
(the systems posting documents in, a load balancer's connection pool) all end up on one process, which works
alone while the others idle: ``bench/sign_http.py`` saw all four of its connections on one of two processes
in about a third of its runs, at half the rate. Like Node.js's cluster module, whose default on Linux is the
same round-robin for the same reason, the supervisor accepts and passes each connection's descriptor over a
Unix socket (SCM_RIGHTS, ``socket.send_fds``) to the next ready process (``api.server_process``), which serves
it with uvicorn.

Signals: SIGTERM or SIGINT stops accepting and lets every process finish its requests (uvicorn's graceful
shutdown); SIGHUP replaces the processes one by one, each retired only once its successor is ready. A process
is told to end by closing its end of the Unix socket, so the connections already handed to it are served, not
reset. A process that dies is replaced.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from api.server_process import READY
from esign import pdf_limits

log = logging.getLogger("esign.serve")

_STOP_WAIT_S = 30.0


@dataclass(eq=False)
class _Process:
    popen: subprocess.Popen[bytes]
    channel: socket.socket
    ready: bool = False


class Supervisor:
    """Runs until SIGTERM or SIGINT, or until the first processes end before any was ready (a process that
    cannot start would fail again). Later, a process that ends before it is ready is not started again until
    the next SIGHUP, and a replacement under way stops there, the old processes serving on. ``host`` and
    ``port`` are those of ``listener``, for the processes' logs."""

    def __init__(self, listener: socket.socket, processes: int, *, host: str, port: int) -> None:
        self._listener = listener
        self._count = processes
        self._address = [host, str(port)]
        self._grace_s = pdf_limits.configured().shutdown_grace_s
        self._processes: list[_Process] = []
        self._to_replace: deque[_Process] = deque()
        self._retired: list[subprocess.Popen[bytes]] = []
        self._failed = False
        self._served = False  # some process has been ready
        self._hold = False  # a process could not start: start none until SIGHUP
        self._next = 0
        self._stopping = False
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()

    def run(self) -> int:
        """The exit status: 0 after a requested stop, 1 when a process could not start."""
        self._listener.setblocking(False)
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._woken)
        previous = signal.set_wakeup_fd(self._wake_write.fileno(), warn_on_full_buffer=False)
        handlers = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            self._balance()
            while not self._stopping:
                for key, _ in self._selector.select(timeout=1.0):
                    key.data(key.fileobj)
                self._retired = [p for p in self._retired if p.poll() is None]
            self._stop_all()
            return 1 if self._failed else 0
        finally:
            signal.set_wakeup_fd(previous)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            self._selector.close()
            self._listener.close()

    def _balance(self) -> None:
        """Old processes retired as their successors become ready; processes started up to the count, one at a
        time while replacing."""
        current = [p for p in self._processes if p not in self._to_replace]
        ready = sum(p.ready for p in current)
        while self._to_replace and ready + len(self._to_replace) > self._count:
            old = self._to_replace.popleft()
            self._forget(old)  # it serves what it was handed, then ends
            self._retired.append(old.popen)
        missing = self._count - len(current)
        if self._to_replace:
            missing = min(missing, 1 - (len(current) - ready))
        for _ in range(0 if self._stopping or self._hold else missing):
            self._start()

    def _start(self) -> _Process:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "api.server_process", str(theirs.fileno()), *self._address]
        popen = subprocess.Popen(command, pass_fds=[theirs.fileno()])
        theirs.close()
        ours.setblocking(False)
        process = _Process(popen, ours)
        self._processes.append(process)
        self._selector.register(ours, selectors.EVENT_READ, lambda _: self._heard(process))
        log.info("server process %d started", popen.pid)
        return process

    def _ready(self) -> list[_Process]:
        return [p for p in self._processes if p.ready]

    def _woken(self, wake: Any) -> None:
        try:
            signals = wake.recv(64)
        except BlockingIOError:
            return
        for number in signals:
            if number in (signal.SIGTERM, signal.SIGINT):
                self._stopping = True
            elif number == signal.SIGHUP and self._to_replace:
                log.warning("SIGHUP: a replacement is already under way")
            elif number == signal.SIGHUP:
                log.info("SIGHUP: replacing the server processes one by one")
                self._hold = False
                self._to_replace.extend(self._processes)
                self._balance()

    def _heard(self, process: _Process) -> None:
        try:
            message = process.channel.recv(64)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if message == READY:
            process.ready = self._served = True
            with contextlib.suppress(KeyError):  # already accepting
                self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
            self._balance()
        elif not message:
            self._gone(process)

    def _forget(self, process: _Process) -> None:
        if process in self._processes:
            self._processes.remove(process)
        self._selector.unregister(process.channel)
        process.channel.close()

    def _gone(self, process: _Process) -> None:
        self._forget(process)
        try:
            status: int | None = process.popen.wait(timeout=1)  # it closed its end on its way out
        except subprocess.TimeoutExpired:
            status = None
            self._retired.append(process.popen)
        if process in self._to_replace:
            self._to_replace.remove(process)
        if self._stopping:
            return
        if process.ready:
            log.warning("server process %d ended (exit %s); starting another", process.popen.pid, status)
        elif not self._served:
            log.error("server process %d could not start (exit %s); stopping", process.popen.pid, status)
            self._failed = self._stopping = True
        else:
            log.error(
                "server process %d could not start (exit %s); the others serve on, none is started until SIGHUP",
                process.popen.pid,
                status,
            )
            self._hold = True
            self._to_replace.clear()
        self._balance()

    def _accept(self, listener: Any) -> None:
        """Connections wait in the listening queue while no process is ready."""
        if not self._ready():
            self._selector.unregister(listener)
            return
        while True:
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            with connection:
                self._hand(connection)

    def _hand(self, connection: socket.socket) -> None:
        """To the next ready process in turn; one that cannot take it is skipped."""
        ready = self._ready()
        for offset in range(len(ready)):
            process = ready[(self._next + offset) % len(ready)]
            try:
                socket.send_fds(process.channel, [b"c"], [connection.fileno()])
            except (BlockingIOError, ConnectionError):
                continue
            self._next = (self._next + offset + 1) % len(ready)
            return
        log.warning("no server process could take a connection (all busy or gone); it is closed")

    def _stop_all(self) -> None:
        """Every process told to end (its channel closed: it serves what it was handed, then shuts down
        gracefully), and SIGKILL for any still there after the grace."""
        self._listener.close()
        popens = [p.popen for p in self._processes] + self._retired
        for process in list(self._processes):
            self._forget(process)
        deadline = time.monotonic() + self._grace_s + _STOP_WAIT_S
        for popen in popens:
            try:
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        self._wake_read.close()
        self._wake_write.close()
