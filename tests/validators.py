"""Independent validators the tests trust more than our own verifier: poppler's pdfsig and pyhanko's CLI.

Both run as separate processes, so nothing esign installs into pyhanko at import time reaches them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import require


@dataclass(frozen=True)
class PdfsigSignature:
    field: str
    signature_valid: bool
    certificate_trusted: bool
    whole_document: bool
    signer: str


def nss_db(folder: Path, roots: list[bytes]) -> Path:
    """An NSS certificate database trusting ``roots`` for document signing (pdfsig reads it)."""
    require(shutil.which("certutil") is not None, "certutil (Debian libnss3-tools) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{folder}"], check=True)
    for i, pem in enumerate(roots):
        path = folder / f"root{i}.pem"
        path.write_bytes(pem)
        subprocess.run(
            ["certutil", "-A", "-n", f"root{i}", "-t", "C,C,C", "-i", str(path), "-d", f"sql:{folder}"],
            check=True,
        )
    return folder


def pdfsig(pdf: Path, nssdir: Path, *, ocsp: bool = True) -> list[PdfsigSignature]:
    """``ocsp=False`` for certificates whose OCSP responder is not being served: poppler 22 then reports
    "Unknown issue" instead of falling back. Its -no-ocsp has quirks of its own: it reports "Unknown issue"
    for a certificate without AIA, and for every signature after the first."""
    require(shutil.which("pdfsig") is not None, "pdfsig (Debian poppler-utils) is not installed")
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nssdir}", *([] if ocsp else ["-no-ocsp"]), str(pdf)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = []
    for block in re.split(r"^Signature #\d+:\n", out, flags=re.M)[1:]:

        def value(label: str, block: str = block) -> str:
            match = re.search(rf"- {label}: (.*)$", block, flags=re.M)
            return match.group(1).strip() if match else ""

        found.append(
            PdfsigSignature(
                field=value("Signature Field Name"),
                signature_valid=value("Signature Validation") == "Signature is Valid.",
                certificate_trusted=value("Certificate Validation") == "Certificate is Trusted.",
                whole_document="Total document signed" in block,
                signer=value("Signer Certificate Common Name"),
            )
        )
    return found


def pyhanko_cli(pdf: Path, roots: list[Path]) -> tuple[int, list[str]]:
    """``pyhanko sign validate``: exit code and one summary line per signature."""
    command = [sys.executable, "-m", "pyhanko", "sign", "validate", "--trust-replace"]
    for root in roots:
        command += ["--trust", str(root)]
    result = subprocess.run([*command, str(pdf)], capture_output=True, text=True, check=False)
    return result.returncode, [line for line in result.stdout.splitlines() if line.strip()]
