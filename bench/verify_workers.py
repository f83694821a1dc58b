"""Verification reports per second through ``POST /v1/verify``: ``esign serve --workers 2`` against one process.

    python bench/verify_workers.py [--seconds 8] [--rounds 2] [--clients 6] [--workers 2] [--parse-workers N]

``esign init`` makes a throwaway data directory with its demo PKI; one one-page PDF is signed at B-LTA through
``POST /v1/sign`` by the demo official 李强 (what a clerk receives), then verified over and over by
``--clients`` threads, each with a keep-alive httpx client, against the service's configured trust (the demo
root). Every answer must be a 200 report whose verdict is ``valid``.

Rounds alternate one process, ``--workers`` processes, ``--workers`` processes, one process … (a server
started afresh for each round, on the same data directory), so that a noisy neighbour hits both; each figure
is the mean of its rounds. The target is ≥ 1.6× on 2 CPUs.

Each server process has its own parsing workers (``ESIGN_PARSE_WORKERS``, by default one per CPU up to four),
in which the verification itself runs; the server process receives the upload, loads the trust and writes
the report. So by default one process already verifies on every CPU, and a second adds processes, not CPUs:
the ratio then measures what the second process costs. ``--parse-workers N`` gives every process N parsing
workers instead; with 1, one process verifies on one CPU at a time and the ratio shows how far processes
scale (that they share nothing that serialises them: database, trust, ports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import initialised, serving  # noqa: E402
from bench.sign import one_page_pdf  # noqa: E402
from bench.timing import concurrent_rate  # noqa: E402

OFFICIAL = "李强"
DEMO_PIN = "123456"
TARGET = 1.6


def _signed(base: str, token: str) -> bytes:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        credentials = http.get("/v1/credentials").raise_for_status().json()
        credential_id = next(c["id"] for c in credentials if c["purpose"] == "signature")
        response = http.post(
            "/v1/sign",
            files={"file": ("in.pdf", one_page_pdf(), "application/pdf")},
            data={"credential_id": credential_id, "pin": DEMO_PIN, "level": "B-LTA"},
        )
        response.raise_for_status()
        return response.content


def served_rate(base: str, pdf: bytes, *, seconds: float, clients: int) -> float:
    """Valid reports per second summed over ``clients`` threads."""
    https = [httpx.Client(base_url=base, timeout=120) for _ in range(clients)]

    def verify(http: httpx.Client) -> None:
        response = http.post("/v1/verify", files={"file": ("in.pdf", pdf, "application/pdf")})
        assert response.status_code == 200, response.text
        assert response.json()["verdict"] == "valid", response.text

    for http in https:
        verify(http)  # warm-up: the first report of each connection and parsing worker
    try:
        return concurrent_rate([lambda http=http: verify(http) for http in https], seconds)
    finally:
        for http in https:
            http.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of each configuration")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="esign serve's processes, against one")
    parser.add_argument("--parse-workers", type=int, help="ESIGN_PARSE_WORKERS of every process (default: its default)")
    args = parser.parse_args()

    rates: dict[int, list[float]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory(prefix="esign-bench-verify-workers-") as tmp:
        parsing = {"ESIGN_PARSE_WORKERS": str(args.parse_workers)} if args.parse_workers else None
        instance = initialised(Path(tmp) / "var", parsing)
        token = instance.tokens()[OFFICIAL]
        pdf = b""
        order = [1, args.workers, args.workers, 1] * ((args.rounds + 1) // 2)
        for workers in order[: 2 * args.rounds]:
            with serving(instance, "--workers", str(workers)):
                pdf = pdf or _signed(instance.base, token)
                rates[workers].append(served_rate(instance.base, pdf, seconds=args.seconds, clients=args.clients))

    one, many = statistics.mean(rates[1]), statistics.mean(rates[args.workers])
    ratio = many / one
    ok = ratio >= TARGET
    print(f"{'POST /v1/verify, B-LTA one-page PDF':<40}{'reports/s':>10}   rounds")
    for workers in (1, args.workers):
        label = f"esign serve --workers {workers}"
        print(f"{label:<40}{statistics.mean(rates[workers]):>10.1f}   {', '.join(f'{r:.1f}' for r in rates[workers])}")
    print(f"\nratio {ratio:.2f}×, target ≥ {TARGET:g}×  {'ok' if ok else 'MISSED'}")
    print(
        f"{os.cpu_count()} CPUs, {args.clients} keep-alive httpx clients (threads), "
        f"{args.seconds:g} s rounds; parsing workers per process: {args.parse_workers or 'the default'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
