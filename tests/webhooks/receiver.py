"""A real HTTP endpoint on loopback that records what it receives and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The receiver code the README shows and docs/examples/webhook_receiver.py runs: the tests run this very text.
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
_SHOWN = "# --- the receiver's code, as the README shows it ---\n"
_SERVER = "# --- a small HTTP server around it ---"
RECEIVER_CODE = EXAMPLE.read_text(encoding="utf-8").split(_SHOWN)[1].split(_SERVER)[0]


def receiver_namespace(handle: Any = None) -> dict[str, Any]:
    """RECEIVER_CODE executed, with ``handle`` standing for the receiver's own code."""
    namespace: dict[str, Any] = {"handle": handle or (lambda event: None)}
    exec(compile(RECEIVER_CODE, "README.md (receiver)", "exec"), namespace)
    return namespace


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None
    """The status sent back; None when the request was held and the caller had gone."""

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_id(self) -> str:
        return self.headers["Esign-Event-Id"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """Room for every worker's parallel calls at once (the default backlog is 5)."""


class Receiver:
    """Answers ``failure_status`` to the first ``fail_first`` requests and 200 afterwards. The first
    ``hold_first`` requests are held (not answered) until :meth:`release` or ``hold_seconds``."""

    def __init__(
        self, *, fail_first: int = 0, failure_status: int = 500, hold_first: int = 0, hold_seconds: float = 10.0
    ):
        self.fail_first = fail_first
        self.failure_status = failure_status
        self.hold_first = hold_first
        self.hold_seconds = hold_seconds
        self._released = threading.Event()
        self._lock = threading.Condition()
        self._arrivals = 0
        self._received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                with receiver._lock:
                    index = receiver._arrivals
                    receiver._arrivals += 1
                    receiver._lock.notify_all()
                if index < receiver.hold_first:
                    receiver._released.wait(receiver.hold_seconds)
                status = receiver.failure_status if index < receiver.fail_first else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    answered: int | None = status
                except OSError:
                    answered = None
                with receiver._lock:
                    receiver._received.append(Received(self.path, headers, body, answered))
                    receiver._lock.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def arrivals(self) -> int:
        """Requests that arrived, answered or not yet."""
        with self._lock:
            return self._arrivals

    def wait_for_arrivals(self, count: int, timeout: float = 20.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._arrivals >= count, timeout):
                raise AssertionError(f"{self._arrivals} request(s) arrived, expected {count}")

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` requests have been handled (answered or abandoned)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(f"{len(self._received)} request(s) received, expected {count}")
            return list(self._received)

    def quiet_for(self, seconds: float) -> None:
        """Assert that nothing more arrives for a while."""
        before = self.arrivals
        time.sleep(seconds)
        assert self.arrivals == before, f"{self.arrivals - before} unexpected request(s)"

    def release(self) -> None:
        self._released.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
