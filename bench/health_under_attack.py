"""``/health`` while hostile PDFs pour into the unauthenticated ``POST /v1/verify``, against an idle server.

    python bench/health_under_attack.py [--seconds 10] [--clients 4]

Starts ``esign init --no-demo`` and ``esign serve --no-worker`` (no background jobs) on a loopback port with
a throwaway data directory and the parsing budget a deployment gets (``ESIGN_PARSE_*`` in the environment
reach the server, e.g. ``ESIGN_PARSE_QUEUE=0`` to see more 503s). One benign upload starts the parsing
workers. Then one keep-alive client requests ``/health`` back to back for ``--seconds`` on the idle server,
and again for ``--seconds`` while ``--clients`` keep-alive clients upload the hostile files of
``tests/hostile.py`` in turn (each client starting at another file). The uploaders run in a process of their
own, so that their threads do not hold the measuring client's interpreter lock; uploads still running when
the time is up are awaited and counted.

Printed: ``/health`` latency p50, p95 and max in both phases and the ratio of the p95s; every answer the
uploads got (status, code, the budget's limit, ``Retry-After``); the RSS of the server, alone and with its
parsing workers, before the attack, at its peak and after it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.api.served import free_port, wait_until_healthy  # noqa: E402
from tests.hostile import HOSTILE, classic  # noqa: E402
from tests.procfs import rss  # noqa: E402

UPLOAD_TIMEOUT_S = 120.0
_MIB = 1024 * 1024


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)
    failures: int = 0

    def percentile(self, p: int) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def health_latencies(url: str, seconds: float) -> Latencies:
    """``/health`` back to back from one keep-alive client for ``seconds``; a failure counts, not its time."""
    measured = Latencies()
    with httpx.Client(timeout=30) as http:
        deadline = time.perf_counter() + seconds
        while (start := time.perf_counter()) < deadline:
            try:
                ok = http.get(f"{url}/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                measured.seconds.append(time.perf_counter() - start)
            else:
                measured.failures += 1
    return measured


def _answer(response: httpx.Response) -> str:
    """What an upload was told, e.g. ``422 pdf_too_complex (limit objects)`` or ``503 busy, Retry-After 20``."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        return f"{status} (no JSON body)"
    if status == 200:
        return f"200 verdict {body.get('verdict')}"
    answer = f"{status} {body.get('code')}"
    if "limit" in body:
        answer += f" (limit {body['limit']})"
    if status == 503:
        answer += f", Retry-After {response.headers.get('Retry-After', 'missing')}"
    return answer


Answers = dict[str, list[tuple[str, float]]]
"""What the uploads were told → (file, seconds to the answer) of each upload told that."""


def attack(
    url: str, clients: int, server: int, ready: Event, stop: Event, results: Queue[tuple[Answers, int, int]]
) -> None:
    """In the uploaders' process: ``clients`` threads upload hostile files until ``stop``; meanwhile the
    server's RSS is sampled. Puts ``(answers, peak_rss, peak_rss_with_workers)`` on ``results``."""
    files = [(name, build()) for name, build in HOSTILE.items()]
    answers: Answers = defaultdict(list)
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(timeout=UPLOAD_TIMEOUT_S) as http:
            turn = n
            while not stop.is_set():
                name, data = files[turn % len(files)]
                turn += 1
                start = time.perf_counter()
                try:
                    response = http.post(f"{url}/v1/verify", files={"file": (f"{name}.pdf", data, "application/pdf")})
                    answer = _answer(response)
                except httpx.HTTPError as e:
                    answer = f"no answer: {type(e).__name__}"
                with lock:
                    answers[answer].append((name, time.perf_counter() - start))

    peak, peak_tree = 0, 0
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    ready.set()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak, peak_tree = max(peak, rss(server, tree=False)), max(peak_tree, rss(server))
        time.sleep(0.2)
    results.put((dict(answers), peak, peak_tree))


def _print_latencies(label: str, measured: Latencies) -> None:
    ms = [1000 * measured.percentile(p) for p in (50, 95)]
    print(f"  {label:<34}{len(measured.seconds):>9}{ms[0]:>9.2f}{ms[1]:>9.2f}{1000 * max(measured.seconds):>9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase (idle, under attack)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients uploading hostile PDFs")
    args = parser.parse_args()

    from esign import pdf_limits

    budget = pdf_limits.configured()
    esign = Path(sys.executable).parent / "esign"
    with tempfile.TemporaryDirectory(prefix="esign-bench-attack-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ESIGN_DATA_DIR": tmp, "ESIGN_PUBLIC_URL": url}
        for name in ("ESIGN_DATABASE_URL", "ESIGN_DATABASE_SCHEMA"):
            env.pop(name, None)
        subprocess.run([str(esign), "init", "--no-demo"], env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [str(esign), "serve", "--port", str(port), "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_healthy(server, url, output=lambda: "")
            empty = classic([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
            warm = httpx.post(f"{url}/v1/verify", files={"file": ("empty.pdf", empty)}, timeout=UPLOAD_TIMEOUT_S)
            assert warm.json()["verdict"] == "unsigned", warm.text
            time.sleep(1)  # the other workers, started alongside the first, finish their imports
            idle = health_latencies(url, args.seconds)
            before = (rss(server.pid, tree=False), rss(server.pid))

            context = multiprocessing.get_context("spawn")
            ready, stop, results = context.Event(), context.Event(), context.Queue()
            uploader = context.Process(target=attack, args=(url, args.clients, server.pid, ready, stop, results))
            uploader.start()
            ready.wait()
            attacked = health_latencies(url, args.seconds)
            stop.set()
            answers, peak, peak_tree = results.get()
            uploader.join()
            after = (rss(server.pid, tree=False), rss(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(
        f"/health from one keep-alive client, {args.seconds:g} s per phase, ms"
        f"\n  {'':<34}{'requests':>9}{'p50':>9}{'p95':>9}{'max':>9}"
    )
    _print_latencies("idle", idle)
    _print_latencies(f"under attack ({args.clients} uploading clients)", attacked)
    ratio = attacked.percentile(95) / idle.percentile(95)
    print(f"  ratio attack p95 / idle p95     {ratio:>8.1f}×")
    if idle.failures or attacked.failures:
        print(f"  /health failures: idle {idle.failures}, under attack {attacked.failures}")

    uploads = sum(len(each) for each in answers.values())
    print(f"\nhostile uploads to POST /v1/verify: {uploads} answered ({len(HOSTILE)} kinds of file)")
    print(f"  {'count':>5}  {'median s':>8}  answer: files")
    for answer, got in sorted(answers.items(), key=lambda item: -len(item[1])):
        names = ", ".join(sorted({name for name, _ in got}))
        print(f"  {len(got):>5}  {statistics.median(s for _, s in got):>8.2f}  {answer}: {names}")
    print(
        f"  parsing budget: {budget.workers} workers, queue {budget.queue}, {budget.timeout_s:g} s, "
        f"{budget.memory_mb} MiB per parse"
    )

    print(f"\nserver RSS, MiB        {'server':>8}{'+ workers':>11}")
    for label, (alone, tree) in (("before the attack", before), ("peak under attack", (peak, peak_tree))):
        print(f"  {label:<21}{alone / _MIB:>8.1f}{tree / _MIB:>11.1f}")
    print(f"  {'after the attack':<21}{after[0] / _MIB:>8.1f}{after[1] / _MIB:>11.1f}")
    broken = [a for a in answers if a.startswith(("5", "no answer")) and not a.startswith("503 busy")]
    return 1 if idle.failures or attacked.failures or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
