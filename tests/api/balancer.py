"""A round-robin load balancer for tests: each request goes to the next backend in turn, and is recorded.

What a production load balancer does in front of several ``esign serve`` processes, reduced to HTTP/1.1
with ``Content-Length`` bodies (what curl and httpx send): a client that talks to it has its requests
alternate between the processes, as requests from many clients would.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect", "host"}
)


@dataclass(frozen=True)
class Forwarded:
    method: str
    path: str
    backend: str
    status: int


class Balancer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backends: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.backends = backends
        self._turn = itertools.cycle(backends)
        self._lock = threading.Lock()
        self.forwarded: list[Forwarded] = []
        self.client = httpx.Client(timeout=120)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_backend(self) -> str:
        with self._lock:
            return next(self._turn)

    def record(self, entry: Forwarded) -> None:
        with self._lock:
            self.forwarded.append(entry)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Balancer

    def _forward(self) -> None:
        backend = self.server.next_backend()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        request = self.server.client.build_request(self.command, backend + self.path, headers=headers, content=body)
        response = self.server.client.send(request, stream=True)
        try:
            content = b"".join(response.iter_raw())
        finally:
            response.close()
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in HOP_BY_HOP | {"content-length", "date", "server"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        self.server.record(Forwarded(self.command, self.path, backend, response.status_code))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def balancing(backends: list[str]) -> Iterator[Balancer]:
    balancer = Balancer(backends)
    thread = threading.Thread(target=balancer.serve_forever, daemon=True)
    thread.start()
    try:
        yield balancer
    finally:
        balancer.shutdown()
        balancer.server_close()
        balancer.client.close()
        thread.join(10)
