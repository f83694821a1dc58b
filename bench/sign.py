"""Signing and verification throughput: the engine next to naive pyhanko, measured in the same run.

    python bench/sign.py [--seconds 2] [--rounds 3]

For RSA-2048 and ECDSA P-256 on the same one-page PDF:
  sign    the engine (key loaded once for a signing session, size reserved) against pyhanko's
          SimpleSigner.load(key, cert) + sign_pdf per document;
  verify  esign.verify (full report) against a plain validate_pdf_signature, on the same signed PDF.

The naive side runs in a child process that never imports esign, so it measures pyhanko as anyone gets
it (esign installs faster drop-ins for two pyhanko hot spots when it is imported). Each figure is the
median of ``--rounds`` timed rounds of ``--seconds`` each.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import rate  # noqa: E402

KINDS = {"rsa": "RSA-2048", "ec": "ECDSA P-256"}
TARGETS = {("sign", "rsa"): 7.0, ("sign", "ec"): 2.0, ("verify", "rsa"): 1.0, ("verify", "ec"): 1.0}


def one_page_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    text = c.beginText(72, 770)
    for n in range(40):
        text.textLine(f"Line {n + 1}: the quick brown fox jumps over the lazy dog.")
    c.drawText(text)
    c.showPage()
    c.save()
    return buf.getvalue()


def naive(folder: Path, seconds: float, rounds: int) -> dict[str, float]:
    """pyhanko as documented: load the signer from files for each document, validate with a fresh context."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    pdf = (folder / "in.pdf").read_bytes()
    results = {}
    for kind in KINDS:
        keys = folder / kind

        def naive_sign(keys: Path = keys) -> bytes:
            signer = signers.SimpleSigner.load(
                str(keys / "signer.key.pem"), str(keys / "signer.cert.pem"), ca_chain_files=(str(keys / "chain.pem"),)
            )
            meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
            return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer).getvalue()

        signed = (keys / "signed.pdf").read_bytes()
        root = load_cert_from_pemder(str(keys / "root.pem"))

        def naive_validate(signed: bytes = signed, root: object = root) -> object:
            reader = PdfFileReader(io.BytesIO(signed))
            status = validate_pdf_signature(reader.embedded_signatures[0], ValidationContext(trust_roots=[root]))
            assert status.bottom_line
            return status

        results[f"sign-{kind}"] = rate(naive_sign, seconds, rounds)
        results[f"verify-{kind}"] = rate(naive_validate, seconds, rounds)
    return results


def engine(folder: Path, seconds: float, rounds: int) -> dict[str, float]:
    from esign import signers
    from esign.sign import SignOptions, sign
    from esign.trust import TrustSettings
    from esign.verify import verify

    pdf = (folder / "in.pdf").read_bytes()
    results = {}
    for kind in KINDS:
        keys = folder / kind
        signer = signers.from_files(
            key=keys / "signer.key.pem", cert=keys / "signer.cert.pem", chain=[keys / "chain.pem"]
        )
        signed = (keys / "signed.pdf").read_bytes()
        trust = TrustSettings.from_files([keys / "root.pem"])
        assert verify(signed, trust).valid
        results[f"sign-{kind}"] = rate(functools.partial(sign, pdf, signer, SignOptions()), seconds, rounds)
        results[f"verify-{kind}"] = rate(functools.partial(verify, signed, trust), seconds, rounds)
    return results


def prepare(folder: Path) -> None:
    from esign import signers
    from esign.sign import SignOptions, sign
    from tests.pki import TestPki

    pdf = one_page_pdf()
    (folder / "in.pdf").write_bytes(pdf)
    for kind in KINDS:
        pki = TestPki.create(f"bench {kind}", kind=kind)  # type: ignore[arg-type]
        files = pki.write(folder / kind, pki.signer("张三", kind=kind))  # type: ignore[arg-type]
        signer = signers.from_files(key=files["key"], cert=files["cert"], chain=[files["chain"]])
        (folder / kind / "signed.pdf").write_bytes(sign(pdf, signer, SignOptions()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per figure (the median is shown)")
    parser.add_argument("--naive-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.naive_only:
        print(json.dumps(naive(args.naive_only, args.seconds, args.rounds)))
        return 0

    with tempfile.TemporaryDirectory(prefix="esign-bench-") as tmp:
        folder = Path(tmp)
        prepare(folder)
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--naive-only",
                str(folder),
                "--seconds",
                str(args.seconds),
                "--rounds",
                str(args.rounds),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        baseline = json.loads(child.stdout)
        measured = engine(folder, args.seconds, args.rounds)

    print(f"{'operation':<34}{'engine /s':>12}{'naive /s':>12}{'ratio':>9}{'target':>9}")
    missed = 0
    for (what, kind), target in TARGETS.items():
        key = f"{what}-{kind}"
        ratio = measured[key] / baseline[key]
        label = f"{'sign' if what == 'sign' else 'verify (full report)'} {KINDS[kind]}"
        ok = ratio >= target
        missed += not ok
        goal, verdict = f"≥ {target}×", "ok" if ok else "MISSED"
        print(f"{label:<34}{measured[key]:>12.1f}{baseline[key]:>12.1f}{ratio:>8.1f}×{goal:>9}  {verdict}")
    print(
        f"\nnaive = pyhanko {_version('pyhanko')} in a separate process; "
        f"{args.rounds} rounds × {args.seconds:g} s, median"
    )
    return 1 if missed else 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
