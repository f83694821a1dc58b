"""What the parsing budget costs an ordinary verification, measured in the same run.

    python bench/verify_budget.py [--seconds 2] [--rounds 5]

One one-page PDF signed with ECDSA P-256 is verified
  without  in the calling process, without the pre-scan (``esign.verify.verify`` as before the budget);
  with     as the API verifies an upload: pre-scan, then ``esign.budget.verify`` in a parsing worker under
           its deadline and memory cap (the report pickled back).
Rounds of the two alternate, so that a noisy neighbour hits both; each figure is the median round. The
budget is meant to cost less than 10% (ratio ≥ 0.90).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sign import one_page_pdf  # noqa: E402
from bench.timing import rate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per figure (the median is shown)")
    args = parser.parse_args()

    from esign import budget, pdf_limits, signers
    from esign.sign import SignOptions, sign
    from esign.trust import TrustSettings
    from esign.verify import verify
    from tests.pki import TestPki

    with tempfile.TemporaryDirectory() as folder:
        pki = TestPki.create("bench budget", kind="ec")
        files = pki.write(Path(folder), pki.signer("张三", kind="ec"))
        signer = signers.from_files(key=files["key"], cert=files["cert"], chain=[files["chain"]])
        signed = sign(one_page_pdf(), signer, SignOptions())
        trust = TrustSettings.from_files([files["root"]])

    prescan = pdf_limits.check

    def skip(data: bytes, limits: pdf_limits.StructureLimits | None = None) -> None:
        return None

    def without() -> object:
        pdf_limits.check = skip  # type: ignore[assignment]
        try:
            return verify(signed, trust)
        finally:
            pdf_limits.check = prescan

    def with_budget() -> object:
        return budget.verify(signed, trust)

    assert verify(signed, trust).valid and budget.verify(signed, trust).valid
    plain, budgeted = [], []
    for _ in range(args.rounds):
        plain.append(rate(without, args.seconds, 1))
        budgeted.append(rate(with_budget, args.seconds, 1))
    budget.shutdown()
    without_rate, with_rate = statistics.median(plain), statistics.median(budgeted)
    print("verification of a one-page signed PDF (ECDSA P-256), reports/s, median of", args.rounds, "rounds")
    print(f"  without budget  {without_rate:8.1f}")
    print(f"  with budget     {with_rate:8.1f}   (worker process, pre-scan, deadline, memory cap)")
    print(f"  ratio           {with_rate / without_rate:8.3f}   (target ≥ 0.90)")
    return 0 if with_rate / without_rate >= 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
