"""A PDF of about 100 MB signed at B-LTA and verified through HTTP, against pyhanko signing it directly.

    python bench/large.py [--mb 100] [--level B-LTA]

Writes a one-page PDF whose page shows an uncompressed image of random bytes (``--mb`` MiB, so nothing
compresses it away), starts ``esign init`` (demo organisations) and ``esign serve --workers 1`` on a loopback
port with a throwaway data directory, and with the demo official 李强's key (PIN 123456):

- service: ``POST /v1/sign`` at ``--level`` with a signing session opened beforehand (unlocking with the PIN
  runs scrypt, whose 32 MiB come and go with every PIN whatever the file's size), the file streamed from disk
  and the signed PDF streamed back to disk, then ``POST /v1/verify`` of that PDF; each must answer 200 (and
  the verdict be valid). Memory is
  the peak resident set (``VmHWM``, reset through ``/proc/PID/clear_refs`` before each request) minus the
  resident set before it, summed over the server's process tree (the server, its parsing workers, its signing
  process; a process started during the request counts whole). A small PDF is signed and verified first, so
  the workers are already running.
- pyhanko: the same file signed as its documentation has it, in a child process that never imports esign:
  ``SimpleSigner.load`` from the exported key, an ``HTTPTimeStamper`` against the served ``/pki/tsa``,
  ``PdfSigner`` with ``embed_validation_info=True`` and a ``ValidationContext`` fetching from the served
  ``/pki/ocsp`` and ``/pki/crl``, then ``PdfTimeStamper.timestamp_pdf`` for the archive time-stamp, reading
  from and writing to files (``IncrementalPdfFileWriter`` on the open input, ``output=`` an open file). Its
  memory is the child's ``VmHWM`` growth over what it held after its imports.

- the same file through document intake: the clerk 王芳 posts it to ``POST /v1/documents`` (verified,
  assessed and stored as the first revision), and the leader 刘洋 signs it off at ``--level`` with a session
  (``POST /v1/documents/{id}/sign``: the revision copied from the store, signed, stored as the second).

The target: the service's peak memory grows by less than half the file's size, for each of the four requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
OFFICIAL = "李强"
CLERK = "王芳"
LEADER = "刘洋"
DEMO_PIN = "123456"


def write_pdf(path: Path, mib: int) -> int:
    """A valid one-page PDF holding an uncompressed RGB image of random bytes of about ``mib`` MiB; its size."""
    side = int((mib * MIB / 3) ** 0.5)
    length = side * side * 3
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    offsets: list[int] = []
    with path.open("wb") as out:

        def obj(body: bytes) -> None:
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % (len(offsets)) + body + b"\nendobj\n")

        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>"
        )
        obj(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        offsets.append(out.tell())
        out.write(
            b"5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (side, side, length)
        )
        left = length
        while left:
            chunk = os.urandom(min(left, 4 * MIB))
            out.write(chunk)
            left -= len(chunk)
        out.write(b"\nendstream\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
        return out.tell()


# --- memory of a process tree, from /proc -----------------------------------------------------------------


def _status(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status, in bytes; 0 for a process that is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, pending = [root], [root]
    while pending:
        parent = pending.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        pending += children
    return found


def _reset_peak(pid: int) -> None:
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@contextmanager
def peak_growth(root: int) -> Iterator[dict[str, int]]:
    """Sets ``result["bytes"]``: the peak resident set of ``root``'s tree during the block, less before it."""
    before = {pid: _status(pid, "VmRSS") for pid in tree(root)}
    for pid in before:
        _reset_peak(pid)
    result: dict[str, int] = {}
    yield result
    result["bytes"] = sum(max(0, _status(pid, "VmHWM") - before.get(pid, 0)) for pid in tree(root))


# --- pyhanko alone, in a child that never imports esign -------------------------------------------------


def naive(folder: Path, level: str) -> dict[str, float]:
    """Signs ``folder/in.pdf`` into ``folder/naive.pdf`` as pyhanko documents it; seconds and memory growth."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps
    from pyhanko_certvalidator import ValidationContext

    tsa_url = (folder / "tsa-url").read_text()
    root = load_cert_from_pemder(str(folder / "root.pem"))
    baseline = _status(os.getpid(), "VmRSS")
    _reset_peak(os.getpid())
    start = time.perf_counter()
    signer = signers.SimpleSigner.load(
        str(folder / "signer.key.pem"), str(folder / "signer.cert.pem"), ca_chain_files=(str(folder / "chain.pem"),)
    )
    assert signer is not None
    timestamper = timestamps.HTTPTimeStamper(tsa_url) if level != "B-B" else None
    context = ValidationContext(trust_roots=[root], allow_fetching=True)
    long_term = level in ("B-LT", "B-LTA")
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=long_term,
        validation_context=context if long_term else None,
    )
    signed_path = folder / ("signed.pdf" if level == "B-LTA" else "naive.pdf")
    with (folder / "in.pdf").open("rb") as source, signed_path.open("w+b") as signed:
        signers.PdfSigner(meta, signer=signer, timestamper=timestamper).sign_pdf(
            IncrementalPdfFileWriter(source), output=signed
        )
    if level == "B-LTA":
        assert timestamper is not None
        with signed_path.open("rb") as source, (folder / "naive.pdf").open("w+b") as archived:
            signers.PdfTimeStamper(timestamper).timestamp_pdf(
                IncrementalPdfFileWriter(source), "sha256", validation_context=context, output=archived
            )
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "bytes": max(0, _status(os.getpid(), "VmHWM") - baseline)}


def _run_naive(folder: Path, level: str) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--naive-only", str(folder), "--level", level], capture_output=True, text=True
    )
    if child.returncode != 0:
        raise RuntimeError(f"the pyhanko side failed:\n{child.stderr}")
    result: dict[str, float] = json.loads(child.stdout.splitlines()[-1])
    return result


# --- the service -----------------------------------------------------------------------------------------


def _session(http: httpx.Client, credential_id: str) -> str:
    opened = http.post(
        f"/v1/credentials/{credential_id}/sessions", json={"pin": DEMO_PIN, "max_signatures": 10, "ttl_seconds": 600}
    )
    opened.raise_for_status()
    return str(opened.json()["session"])


def _sign(http: httpx.Client, credential_id: str, session: str, level: str, source: Path, target: Path) -> None:
    with source.open("rb") as upload:
        files = {"file": ("in.pdf", upload, "application/pdf")}
        data = {"credential_id": credential_id, "session": session, "level": level}
        with http.stream("POST", "/v1/sign", files=files, data=data) as response:
            if response.status_code != 200:
                raise RuntimeError(f"/v1/sign answered {response.status_code}: {response.read()[:500]!r}")
            with target.open("wb") as out:
                for chunk in response.iter_bytes(MIB):
                    out.write(chunk)


def _verify(http: httpx.Client, source: Path) -> dict[str, object]:
    with source.open("rb") as upload:
        response = http.post("/v1/verify", files={"file": ("signed.pdf", upload, "application/pdf")})
    if response.status_code != 200:
        raise RuntimeError(f"/v1/verify answered {response.status_code}: {response.text[:500]}")
    report: dict[str, object] = response.json()
    return report


def _intake_and_sign_off(
    base: str, tokens: dict[str, str], level: str, source: Path, root: int
) -> tuple[tuple[float, int], tuple[float, int], dict[str, object]]:
    """The clerk posts ``source`` as a document; the leader signs it off with a session of their credential.
    (seconds, peak growth) of each, and the verification report of the stored signed revision."""
    clerk = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[CLERK]}"}, timeout=600)
    leader = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[LEADER]}"}, timeout=600)
    with clerk, leader:
        [credential] = [c for c in leader.get("/v1/credentials").json() if c["purpose"] == "signature"]
        session = _session(leader, credential["id"])
        with peak_growth(root) as intake, source.open("rb") as upload:
            start = time.perf_counter()
            created = clerk.post("/v1/documents", files={"file": ("in.pdf", upload, "application/pdf")})
            intake_seconds = time.perf_counter() - start
        if created.status_code != 201:
            raise RuntimeError(f"/v1/documents answered {created.status_code}: {created.text[:500]}")
        document = created.json()["id"]
        with peak_growth(root) as signing:
            start = time.perf_counter()
            signed = leader.post(
                f"/v1/documents/{document}/sign",
                json={"credential_id": credential["id"], "session": session, "level": level},
            )
            sign_seconds = time.perf_counter() - start
        if signed.status_code != 200:
            raise RuntimeError(f"the sign-off answered {signed.status_code}: {signed.text[:500]}")
        report = clerk.get(f"/v1/documents/{document}/verification").json()
    return (intake_seconds, intake["bytes"]), (sign_seconds, signing["bytes"]), report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="the image's size, in MiB")
    parser.add_argument("--level", default="B-LTA", choices=["B-B", "B-T", "B-LT", "B-LTA"])
    parser.add_argument("--naive-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.naive_only:
        print(json.dumps(naive(args.naive_only, args.level)))
        return 0

    from bench.serving import initialised, serving  # not at the top: the naive child imports no esign
    from bench.sign import one_page_pdf
    from bench.sign_http import _export

    with tempfile.TemporaryDirectory(prefix="esign-bench-large-") as tmp:
        data, folder = Path(tmp) / "var", Path(tmp) / "naive"
        folder.mkdir()
        size = write_pdf(folder / "in.pdf", args.mb)
        (folder / "small.pdf").write_bytes(one_page_pdf())
        instance = initialised(data)
        base, tokens = instance.base, instance.tokens()
        token = tokens[OFFICIAL]
        credential_id = _export(data, folder, base)
        (folder / "tsa-url").write_text(f"{base}/pki/tsa")

        with serving(instance, "--workers", "1") as server:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
                session = _session(http, credential_id)
                _sign(http, credential_id, session, args.level, folder / "small.pdf", folder / "small-signed.pdf")
                _verify(http, folder / "small-signed.pdf")  # the workers are up and warm

                with peak_growth(server.pid) as signing:
                    start = time.perf_counter()
                    _sign(http, credential_id, session, args.level, folder / "in.pdf", folder / "served.pdf")
                    sign_seconds = time.perf_counter() - start
                with peak_growth(server.pid) as verifying:
                    start = time.perf_counter()
                    report = _verify(http, folder / "served.pdf")
                    verify_seconds = time.perf_counter() - start
            intake, sign_off, circulated = _intake_and_sign_off(base, tokens, args.level, folder / "in.pdf", server.pid)
            pyhanko = _run_naive(folder, args.level)
        served_size = (folder / "served.pdf").stat().st_size
        with (folder / "in.pdf").open("rb") as original, (folder / "served.pdf").open("rb") as served:
            prefix = original.read() == served.read(size)

    signatures = report["signatures"]
    assert isinstance(signatures, list)
    levels = [s["pades_level"] for s in signatures]
    half = size / 2
    rows = (
        (f"POST /v1/sign ({args.level})", sign_seconds, signing["bytes"]),
        ("POST /v1/verify", verify_seconds, verifying["bytes"]),
        ("POST /v1/documents (intake)", intake[0], intake[1]),
        (f"document sign-off ({args.level})", sign_off[0], sign_off[1]),
        (f"pyhanko directly ({args.level})", pyhanko["seconds"], pyhanko["bytes"]),
    )
    print(f"input {size / MIB:.1f} MiB, signed {served_size / MIB:.1f} MiB")
    print(f"{'':<32}{'seconds':>9}{'peak RSS growth':>18}{'× file':>8}")
    for name, seconds, grown in rows:
        print(f"{name:<32}{seconds:>9.2f}{grown / MIB:>14.1f} MiB{grown / size:>8.2f}")
    print(
        f"\nservice / pyhanko: sign time {sign_seconds / pyhanko['seconds']:.2f}×, "
        f"sign memory {signing['bytes'] / max(pyhanko['bytes'], 1):.2f}×; sign-off time "
        f"{sign_off[0] / pyhanko['seconds']:.2f}×, memory {sign_off[1] / max(pyhanko['bytes'], 1):.2f}×"
    )
    print(f"verdict {report['verdict']}, levels {levels}, input a prefix of the output: {prefix}")
    circulated_signatures = circulated["signatures"]
    assert isinstance(circulated_signatures, list)
    print(
        f"signed-off revision: verdict {circulated['verdict']}, "
        f"levels {[s['pades_level'] for s in circulated_signatures]}"
    )
    ok = (
        all(grown < half for _, _, grown in rows[:4])
        and circulated["verdict"] == "valid"
        and report["verdict"] == "valid"
        and levels == [args.level]
        and prefix
    )
    print(f"target: the service's peak RSS grows by < 0.5× the file, for each request  {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
