"""The issuing CA's CRL as revocations pile up: esign's ``build_crl`` against cryptography's builder fed one entry
at a time, in the same run; and what a CRL lists once the certificates revoked over the years have expired.

    python bench/crl.py [--sizes 1000,20000,50000]

The issuing CA's CRL is made on every ``GET /pki/crl``, for every verification that trusts the service's own CA,
and embedded in every signature from B-LT on, so its cost and size follow the number of revoked certificates.
A province of 1.5 million officials renewing two-year certificates, a tenth of them revoked early each year,
revokes about 150,000 a year.

The second table counts what a CRL made now lists when 150,000 certificates a year have been revoked for five
years, each revoked halfway through its two-year life: every entry ever made, against the entries of
certificates not yet expired longer than the CRL's validity (RFC 5280 §3.3).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from cryptography import x509

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keys import ca, revocation  # noqa: E402
from keys.revocation import Revoked  # noqa: E402

VALIDITY = timedelta(hours=24)


def _naive(issuer: ca.Authority, entries: list[Revoked], now: datetime) -> bytes:
    """The CRL built as cryptography's documentation shows: one ``add_revoked_certificate`` per entry."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now)
        .next_update(now + VALIDITY)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at).build()
        )
    return ca.signed(builder, issuer.key)


def _timed(make: Callable[[], bytes]) -> tuple[float, bytes]:
    start = time.perf_counter()
    made = make()
    return time.perf_counter() - start, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,20000,50000")
    args = parser.parse_args()
    urls = ca.PkiUrls("http://127.0.0.1:8000")
    root = ca.new_root("bench root", organisation="bench", urls=urls)
    issuing = ca.new_subordinate(
        root, profile=ca.Profile.ISSUING_CA, common_name="bench CA", organisation="b", urls=urls
    )
    now = datetime.now(UTC)

    print(f"{'revoked':>8}  {'esign':>9}  {'one by one':>10}  {'ratio':>6}  {'size':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        entries = [Revoked(serial=i + 1, revoked_at=now - timedelta(days=1)) for i in range(size)]
        ours, crl = _timed(
            partial(revocation.build_crl, issuing, entries, number=1, this_update=now, next_update=now + VALIDITY)
        )
        theirs, _ = _timed(partial(_naive, issuing, entries, now))
        print(f"{size:>8}  {ours:>8.3f}s  {theirs:>9.3f}s  {theirs / ours:>5.1f}×  {len(crl) // 1024:>6} KiB")

    per_year, years, life = 150_000, 5, timedelta(days=730)
    history = [
        Revoked(
            serial=i + 1,
            revoked_at=now - timedelta(days=365 * years * i / (per_year * years)),
            expires_at=now - timedelta(days=365 * years * i / (per_year * years)) + life / 2,
        )
        for i in range(per_year * years)
    ]
    took, crl = _timed(
        lambda: revocation.build_crl(issuing, history, number=2, this_update=now, next_update=now + VALIDITY)
    )
    listed = len(x509.load_der_x509_crl(crl))
    print(f"\nafter {years} years of {per_year:,} revocations a year: {len(history):,} revoked, {listed:,} listed")
    print(f"({listed / len(history):.0%}), {len(crl) // 1024:,} KiB, built in {took:.2f}s")


if __name__ == "__main__":
    main()
