"""Hostile PDFs against the opener and the parsing pool: a refusal or a verdict, in bounded time and memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from esign import budget, pdf, pdf_limits
from esign.budget import _vet
from esign.errors import Busy, PdfError, PdfTooComplex
from esign.parsing_pool import ParsingPool, PoolOptions
from esign.report import VerificationReport
from esign.trust import TrustSettings
from esign.verify import verify
from tests.conftest import make_pdf
from tests.hostile import HOSTILE, REFUSED_BEFORE_PARSING, huge_xref_stream_index, open_unchecked
from tests.procfs import alive

HANG_BOUND_S = 20.0


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsingPool]:
    workers = ParsingPool(PoolOptions(workers=2, queue=2, timeout_s=10, memory_mb=192))
    yield workers
    workers.close()


@pytest.mark.parametrize(("name", "limit"), sorted(REFUSED_BEFORE_PARSING.items()))
def test_declared_structure_beyond_the_file_is_refused_before_parsing(name: str, limit: str) -> None:
    data = HOSTILE[name]()
    start = time.monotonic()
    with pytest.raises(PdfTooComplex) as refused:
        pdf.read(data)
    assert refused.value.limit == limit
    assert refused.value.code == "pdf_too_complex"
    assert time.monotonic() - start < 5
    with pytest.raises(PdfTooComplex):
        pdf.incremental_writer(data)


@pytest.mark.parametrize(("name", "limit"), sorted(REFUSED_BEFORE_PARSING.items()))
def test_the_pre_scan_of_a_file_refuses_what_it_refuses_in_memory(
    name: str, limit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in windows of a few bytes, so every window edge a match or a dictionary could straddle is crossed."""
    monkeypatch.setattr(pdf_limits, "_CHUNK", 97)
    path = tmp_path / "hostile.pdf"
    path.write_bytes(HOSTILE[name]())
    with path.open("rb") as stream, pytest.raises(PdfTooComplex) as refused:
        pdf.read(stream)
    assert refused.value.limit == limit


def test_the_pre_scan_of_a_file_passes_an_ordinary_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_limits, "_CHUNK", 97)
    path = tmp_path / "ordinary.pdf"
    path.write_bytes(make_pdf())
    with path.open("rb") as stream:
        assert int(pdf.read(stream).root["/Pages"]["/Count"]) == 1


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_file_is_refused_or_judged_within_the_budget(pool: ParsingPool, name: str) -> None:
    data = HOSTILE[name]()
    start = time.monotonic()
    try:
        answer: VerificationReport | PdfError = pool.run(verify, data, TrustSettings())
    except PdfError as e:
        answer = e
    assert time.monotonic() - start < HANG_BOUND_S
    assert isinstance(answer, PdfError) or not answer.valid
    assert pool.run(verify, HOSTILE["page_tree_cycle"](), TrustSettings()).verdict == "unsigned"


def test_the_runaway_tolerant_parse_is_stopped_by_the_budget() -> None:
    """Without the pre-scan, the issue's file reaches pyhanko's tolerant reader, which grows without end:
    the worker's memory cap or deadline ends it, and the pool carries on."""
    workers = ParsingPool(PoolOptions(workers=1, queue=0, timeout_s=8, memory_mb=192))
    try:
        start = time.monotonic()
        with pytest.raises(PdfTooComplex) as refused:
            workers.run(open_unchecked, huge_xref_stream_index())
        assert refused.value.limit in ("memory", "time")
        assert time.monotonic() - start < HANG_BOUND_S
        assert workers.run(len, b"still serving") == len(b"still serving")
    finally:
        workers.close()


def test_a_task_past_its_deadline_is_killed_and_its_worker_replaced() -> None:
    workers = ParsingPool(PoolOptions(workers=1, queue=0, timeout_s=1, memory_mb=64, preload=()))
    try:
        first = list(workers.pids())
        with pytest.raises(PdfTooComplex) as refused:
            workers.run(time.sleep, 60)
        assert refused.value.limit == "time"
        assert workers.run(abs, -3) == 3
        assert list(workers.pids()) != first
    finally:
        workers.close()


def test_an_allocation_past_the_memory_cap_is_refused() -> None:
    workers = ParsingPool(PoolOptions(workers=1, queue=0, timeout_s=10, memory_mb=64, preload=()))
    try:
        with pytest.raises(PdfTooComplex) as refused:
            workers.run(bytes, 512 * 1024 * 1024)
        assert refused.value.limit == "memory"
        assert workers.run(len, bytes(16 * 1024 * 1024)) == 16 * 1024 * 1024
    finally:
        workers.close()


def test_a_full_pool_answers_busy_at_once() -> None:
    workers = ParsingPool(PoolOptions(workers=1, queue=0, timeout_s=10, memory_mb=64, preload=()))
    try:
        workers.run(abs, 1)
        running = threading.Thread(target=workers.run, args=(time.sleep, 3))
        running.start()
        time.sleep(0.5)
        start = time.monotonic()
        with pytest.raises(Busy):
            workers.run(abs, 1)
        assert time.monotonic() - start < 1
        running.join()
        assert workers.run(abs, -1) == 1
    finally:
        workers.close()


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL gives the server no chance to close its pool: PR_SET_PDEATHSIG ends the busy worker anyway."""
    script = (
        "import sys, time, threading\n"
        "from esign.parsing_pool import ParsingPool, PoolOptions\n"
        "pool = ParsingPool(PoolOptions(workers=1, timeout_s=60, preload=()))\n"
        "threading.Thread(target=pool.run, args=(time.sleep, 60), daemon=True).start()\n"
        "while not list(pool.pids()): time.sleep(0.05)\n"
        "print(*pool.pids(), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert alive(worker)
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker)


def test_vetting_for_signing_refuses_a_page_tree_that_loops(pool: ParsingPool) -> None:
    """Signing walks the page tree to place an appearance; a loop is refused before the server opens it."""
    with pytest.raises(PdfError, match="page tree loops"):
        pool.run(_vet, HOSTILE["page_tree_cycle"]())
    pool.run(_vet, HOSTILE["flate_bomb_content"]())  # a content stream is not decoded to sign: vetted


@pytest.mark.parametrize("name", sorted(REFUSED_BEFORE_PARSING))
def test_a_file_the_pre_scan_refuses_gets_its_422_while_every_worker_is_busy(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only files that need a parse wait for a worker: with the pool full, a file refused by the pre-scan is
    ``pdf_too_complex`` at once, not ``busy``, while an ordinary file is ``busy``."""
    workers = ParsingPool(PoolOptions(workers=1, queue=0, timeout_s=10, memory_mb=64, preload=()))
    monkeypatch.setattr(budget, "pool", lambda: workers)
    try:
        running = threading.Thread(target=workers.run, args=(time.sleep, 3))
        running.start()
        time.sleep(0.5)
        for check in (lambda data: budget.verify(data, TrustSettings()), budget.vet):
            with pytest.raises(PdfTooComplex):
                check(HOSTILE[name]())
            with pytest.raises(Busy):
                check(make_pdf())
        running.join()
    finally:
        workers.close()


def test_a_worker_holding_more_than_its_share_of_memory_is_replaced() -> None:
    """After a task, a worker whose resident memory exceeds ``retire_above_mb`` ends and the next task gets a
    new one; below it, the same worker serves on."""
    for threshold, replaced in ((4096, False), (1, True)):
        workers = ParsingPool(PoolOptions(workers=1, queue=0, memory_mb=64, preload=(), retire_above_mb=threshold))
        try:
            first, second = workers.run(os.getpid), workers.run(os.getpid)
            assert (first != second) is replaced
        finally:
            workers.close()
