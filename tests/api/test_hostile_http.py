"""Hostile PDFs against a real ``esign serve``: refusals or verdicts in bounded time and memory, ``/health``
answering throughout, and a SIGTERM that ends the server and its parsing workers whatever they are doing."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from esign.db import Database
from tests.api.served import Served, served
from tests.hostile import HOSTILE, classic, large_xref_table, padded_xref_stream_index
from tests.procfs import alive, descendants, rss

HANG_BOUND_S = 20.0
RSS_GROWTH_BOUND = 300 * 1024 * 1024
HEALTH_BOUND_S = 2.0
BUDGET = {
    "ESIGN_PARSE_TIMEOUT_S": "8",
    "ESIGN_PARSE_MEMORY_MB": "192",
    "ESIGN_PARSE_WORKERS": "2",
    "ESIGN_PARSE_QUEUE": "0",
}


def server_pid(instance: Served) -> int:
    """The ``esign serve`` listening on the instance's port (the only one with that port on its command line)."""
    port = instance.url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if b"serve" in argv and port.encode() in argv:
            return int(entry.name)
    raise AssertionError("esign serve not found in /proc")


class Watch:
    """``/health`` polled and the server's RSS sampled, in a thread, while something runs."""

    def __init__(self, instance: Served, pid: int) -> None:
        self.instance, self.pid = instance, pid
        self.slowest_health = 0.0
        self.failures: list[str] = []
        self.peak_rss = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                if httpx.get(f"{self.instance.url}/health", timeout=5).status_code != 200:
                    self.failures.append("health not 200")
            except httpx.HTTPError as e:
                self.failures.append(repr(e))
            self.slowest_health = max(self.slowest_health, time.monotonic() - start)
            self.peak_rss = max(self.peak_rss, rss(self.pid))
            self._stop.wait(0.1)

    @contextmanager
    def running(self) -> Iterator[Watch]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def _verify(instance: Served, data: bytes) -> httpx.Response:
    return httpx.post(
        f"{instance.url}/v1/verify",
        files={"file": ("hostile.pdf", data, "application/pdf")},
        timeout=HANG_BOUND_S + 10,
    )


def _answered(response: httpx.Response) -> None:
    """A refusal naming its code, or a report whose verdict is not valid."""
    if response.status_code == 200:
        assert response.json()["valid"] is False
    elif response.status_code == 503:
        assert response.json()["code"] == "busy"
        assert int(response.headers["Retry-After"]) > 0
    else:
        assert response.status_code == 422, response.text
        assert response.json()["code"] in ("pdf_too_complex", "pdf_malformed")


def test_hostile_uploads_get_answers_in_bounded_time_and_memory(
    tmp_path: Path, new_database: Callable[[], Database]
) -> None:
    with served(tmp_path, new_database, init=False, extra_env=BUDGET) as instance:
        pid = server_pid(instance)
        empty = classic([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
        assert _verify(instance, empty).json()["verdict"] == "unsigned"  # workers are up: measure from here
        baseline = rss(pid)
        for name, build in HOSTILE.items():
            data = build()
            with Watch(instance, pid).running() as watch:
                start = time.monotonic()
                response = _verify(instance, data)
                elapsed = time.monotonic() - start
            assert elapsed < HANG_BOUND_S, name
            _answered(response)
            assert response.status_code != 503, name  # one upload at a time is never refused as busy
            if response.status_code == 422 and name == "huge_xref_stream_index":
                assert response.json()["limit"] == "objects"
            assert watch.peak_rss - baseline < RSS_GROWTH_BOUND, (name, watch.peak_rss - baseline)
            assert not watch.failures, (name, watch.failures)
            assert watch.slowest_health < HEALTH_BOUND_S, (name, watch.slowest_health)

        # Four heavy uploads at once: two workers take two, the others are told to come back; cheap requests
        # are not held up meanwhile.
        heavy = large_xref_table()
        with Watch(instance, pid).running() as watch, ThreadPoolExecutor(4) as uploads:
            responses = list(uploads.map(lambda _: _verify(instance, heavy), range(4)))
        for response in responses:
            _answered(response)
        assert any(r.status_code == 503 for r in responses), [r.status_code for r in responses]
        assert not watch.failures, watch.failures
        assert watch.slowest_health < HEALTH_BOUND_S, watch.slowest_health


def test_sigterm_during_a_hostile_parse_ends_the_server_and_its_workers(
    tmp_path: Path, new_database: Callable[[], Database]
) -> None:
    grace = 3
    env = {
        **BUDGET,
        # Let the padded file past the pre-scan, and give its runaway parse room: only shutdown ends it.
        "ESIGN_PARSE_MAX_OBJECTS": str(10**9),
        "ESIGN_PARSE_TIMEOUT_S": "120",
        "ESIGN_PARSE_MEMORY_MB": "4096",
        "ESIGN_SHUTDOWN_GRACE_S": str(grace),
    }
    with served(tmp_path, new_database, init=False, extra_env=env) as instance:
        pid = server_pid(instance)
        data = padded_xref_stream_index()
        answers: list[httpx.Response | Exception] = []

        def upload() -> None:
            try:
                answers.append(_verify(instance, data))
            except httpx.HTTPError as e:
                answers.append(e)

        sender = threading.Thread(target=upload, daemon=True)
        sender.start()
        deadline = time.monotonic() + 30
        while not descendants(pid):
            assert time.monotonic() < deadline, "no parsing worker started"
            time.sleep(0.1)
        time.sleep(3)  # the worker is deep in the runaway parse by now
        assert sender.is_alive(), answers
        children = descendants(pid)
        assert children
        start = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        while alive(pid):
            assert time.monotonic() - start < grace + 10, "the server outlived its grace period"
            time.sleep(0.1)
        while any(alive(child) for child in children):
            assert time.monotonic() - start < grace + 15, [c for c in children if alive(c)]
            time.sleep(0.1)
        sender.join(timeout=10)
