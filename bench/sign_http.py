"""PAdES B-LTA signatures per second through ``POST /v1/sign``, next to naive pyhanko B-LTA in the same run.

    python bench/sign_http.py [--seconds 10] [--clients 4] [--workers N] [--spread]

Starts ``esign init`` (with its demo organisations) and ``esign serve`` on a loopback port with a throwaway
data directory; the key is the demo official 李强's (PIN 123456), on the same one-page PDF as bench/sign.py.

- service: ``esign serve --workers N`` (default: one process per CPU, as a deployment on this machine would
  run it), and ``--clients`` threads, each with a keep-alive httpx client and a signing session of its own
  (``POST /v1/credentials/{id}/sessions``, opened before the clock), posting the PDF to ``/v1/sign`` with
  ``level=B-LTA`` one request after another; every answer must be a 200 PDF. The service time-stamps and
  gathers revocation data with its own TSA, OCSP responder and CRLs. The supervisor of ``--workers N`` hands
  the connections to its processes in turn (``api.supervisor``). ``--spread`` runs N single-process servers on
  ports of their own instead, client i using server i mod N, as a load balancer in front of N API processes
  would place them.
- naive: pyhanko as its documentation has it, one document after another, in a child process that never
  imports esign: per document ``SimpleSigner.load`` from the key (PKCS#8 PEM) and certificates exported
  for the benchmark, an ``HTTPTimeStamper`` against the same server's ``/pki/tsa``, a ``PdfSigner`` with
  ``embed_validation_info=True`` and a ``ValidationContext(trust_roots=[root], allow_fetching=True)`` that
  fetches OCSP responses and CRLs from the served ``/pki/ocsp`` and ``/pki/crl`` (the certificates' AIA
  and CRL distribution points), then ``PdfTimeStamper.timestamp_pdf`` with that context for the archive
  time-stamp and its validation data (what ``use_pades_lta=True`` does). It is taken before and after the
  service and averaged, so that a busy machine skews the ratio less.

One output of each side is then checked with ``esign.verify`` against the root alone (the documents carry
their own validation data) and its PAdES level and verdict printed; the service's must be a valid B-LTA.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import concurrent_rate  # noqa: E402

OFFICIAL = "李强"
DEMO_PIN = "123456"
TARGET = 10.0


def naive(folder: Path, seconds: float) -> dict[str, float]:
    """Documents per second, pyhanko B-LTA as documented; the last one is written to ``naive.pdf``."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps
    from pyhanko_certvalidator import ValidationContext

    pdf = (folder / "in.pdf").read_bytes()
    tsa_url = (folder / "tsa-url").read_text()
    root = load_cert_from_pemder(str(folder / "root.pem"))

    def naive_sign() -> bytes:
        signer = signers.SimpleSigner.load(
            str(folder / "signer.key.pem"), str(folder / "signer.cert.pem"), ca_chain_files=(str(folder / "chain.pem"),)
        )
        assert signer is not None
        timestamper = timestamps.HTTPTimeStamper(tsa_url)
        # Revocation data is issued after the context's moment; the default tolerance (1 s) refused it when the
        # first document's lazy imports took longer than that on a busy machine.
        context = ValidationContext(trust_roots=[root], allow_fetching=True, time_tolerance=timedelta(seconds=30))
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1",
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            validation_context=context,
        )
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)
        signed = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
        archived = signers.PdfTimeStamper(timestamper).timestamp_pdf(
            IncrementalPdfFileWriter(signed), "sha256", validation_context=context
        )
        return bytes(archived.getvalue())

    out = naive_sign()  # warm-up, and the sample checked afterwards
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        out = naive_sign()
        count += 1
    (folder / "naive.pdf").write_bytes(out)
    return {"rate": count / elapsed}


def _run_naive(folder: Path, seconds: float) -> float:
    child = subprocess.run(
        [sys.executable, __file__, "--naive-only", str(folder), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(f"the naive side failed:\n{child.stderr}")
    return float(json.loads(child.stdout.splitlines()[-1])["rate"])


def _export(tmp: Path, folder: Path, public_url: str) -> str:
    """Writes 李强's key (PKCS#8 PEM), certificate, the CA chain and the root to ``folder``; the credential's id."""
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import select

    from esign.db import Database
    from esign.settings import Settings
    from keys import authorities, ca, envelope
    from keys.credentials import Credential, Purpose, certificate, context
    from keys.identities import Official

    settings = Settings(data_dir=tmp, public_url=public_url)
    database = Database.from_settings(settings)
    try:
        with database.transaction() as session:
            pki = authorities.load(session, settings)
            credential = session.scalars(
                select(Credential)
                .join(Official, Official.id == Credential.official_id)
                .where(Official.name == OFFICIAL, Credential.purpose == Purpose.SIGNATURE.value)
            ).one()
            assert credential.encrypted_key is not None
            key = envelope.open_key(credential.encrypted_key, DEMO_PIN.encode(), context=context(credential.id))
            cert = certificate(session, credential)
            credential_id = credential.id
    finally:
        database.dispose()
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "signer.key.pem").write_bytes(pkcs8)
    (folder / "signer.cert.pem").write_bytes(ca.pem(cert))
    (folder / "chain.pem").write_bytes(b"".join(ca.pem(c) for c in pki.chain))
    (folder / "root.pem").write_bytes(ca.pem(pki.root.cert))
    return credential_id


def served_rate(
    bases: list[str], token: str, credential_id: str, pdf: bytes, *, seconds: float, clients: int
) -> tuple[float, bytes]:
    """Signatures per second summed over ``clients`` threads, each with its own session, the clients taking the
    ``bases`` in turn; one signed PDF."""
    headers = {"Authorization": f"Bearer {token}"}
    https = [httpx.Client(base_url=bases[n % len(bases)], headers=headers, timeout=120) for n in range(clients)]
    sessions = []
    for http in https:
        opened = http.post(
            f"/v1/credentials/{credential_id}/sessions",
            json={"pin": DEMO_PIN, "max_signatures": 1000, "ttl_seconds": 3600},
        )
        opened.raise_for_status()
        sessions.append(opened.json()["session"])

    def sign(http: httpx.Client, session: str) -> bytes:
        response = http.post(
            "/v1/sign",
            files={"file": ("in.pdf", pdf, "application/pdf")},
            data={"credential_id": credential_id, "session": session, "level": "B-LTA"},
        )
        assert response.status_code == 200, response.text
        assert response.content.startswith(b"%PDF")
        return response.content

    sample = sign(https[0], sessions[0])  # warm-up, and the sample checked afterwards
    try:
        rate = concurrent_rate(
            [
                lambda http=http, session=session: sign(http, session)
                for http, session in zip(https, sessions, strict=True)
            ],
            seconds,
        )
    finally:
        for http in https:
            http.close()
    return rate, sample


def _checked(signed: bytes, root: Path) -> tuple[str, str]:
    """The PAdES level the document carries for its signature, and esign.verify's verdict on it."""
    from esign.trust import TrustSettings
    from esign.verify import verify

    report = verify(signed, TrustSettings.from_files([root]))
    signature = report.signatures[0]
    verdict = (
        report.verdict.value
        if signature.sub_indication is None
        else f"{report.verdict.value} ({signature.sub_indication})"
    )
    return str(signature.pades_level), verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="esign serve's processes")
    parser.add_argument(
        "--spread",
        action="store_true",
        help="--workers single-process servers on ports of their own, the clients spread over them in turn",
    )
    parser.add_argument("--naive-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.naive_only:
        print(json.dumps(naive(args.naive_only, args.seconds)))
        return 0

    from bench.serving import initialised, serving  # not at the top: the naive child imports no esign
    from bench.sign import one_page_pdf
    from tests.api.served import free_port

    with tempfile.TemporaryDirectory(prefix="esign-bench-sign-http-") as tmp:
        data, folder = Path(tmp) / "var", Path(tmp) / "naive"
        folder.mkdir()
        instance = initialised(data)
        token = instance.tokens()[OFFICIAL]
        credential_id = _export(data, folder, instance.base)
        pdf = one_page_pdf()
        (folder / "in.pdf").write_bytes(pdf)
        (folder / "tsa-url").write_text(f"{instance.base}/pki/tsa")

        with ExitStack() as servers:
            if args.spread:
                # Separate single-process servers on ports of their own, each given every n-th client, as a
                # load balancer would spread them; the first also runs the background jobs.
                others = [free_port() for _ in range(args.workers - 1)]
                servers.enter_context(serving(instance, "--workers", "1"))
                for port in others:
                    other = replace(instance, port=port, base=f"http://127.0.0.1:{port}")
                    servers.enter_context(serving(other, "--workers", "1", "--no-worker"))
                bases = [instance.base, *(f"http://127.0.0.1:{port}" for port in others)]
            else:
                servers.enter_context(serving(instance, "--workers", str(args.workers)))
                bases = [instance.base]
            naive_before = _run_naive(folder, args.seconds)
            served, sample = served_rate(bases, token, credential_id, pdf, seconds=args.seconds, clients=args.clients)
            naive_after = _run_naive(folder, args.seconds)
        # Checked offline, against the root alone: the documents carry their own validation data.
        checked = (
            _checked(sample, folder / "root.pem"),
            _checked((folder / "naive.pdf").read_bytes(), folder / "root.pem"),
        )

    baseline = (naive_before + naive_after) / 2
    ratio = served / baseline
    ok = ratio >= TARGET
    print(f"{'B-LTA signatures':<40}{'per s':>9}   output: level, esign.verify's verdict")
    for name, rate, (level, verdict) in (
        ("POST /v1/sign, signing session", served, checked[0]),
        ("naive pyhanko (before/after, mean)", baseline, checked[1]),
    ):
        print(f"{name:<40}{rate:>9.2f}   {level}, {verdict}")
    print(f"  before {naive_before:.2f}/s, after {naive_after:.2f}/s")
    print(f"\nratio {ratio:.1f}×, target ≥ {TARGET:g}×  {'ok' if ok else 'MISSED'}")
    served_by = (
        f"{args.workers} × `esign serve --workers 1` (--spread)"
        if args.spread
        else f"`esign serve --workers {args.workers}`"
    )
    print(
        f"ECDSA P-256 key; {served_by} on {os.cpu_count()} CPUs, "
        f"{args.clients} keep-alive httpx clients (threads), "
        f"naive one document at a time; {args.seconds:g} s each"
    )
    return 0 if ok and checked[0] == ("B-LTA", "valid") and checked[1][0] == "B-LTA" else 1


if __name__ == "__main__":
    sys.exit(main())
