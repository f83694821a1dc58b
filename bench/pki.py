"""OCSP responses and RFC 3161 time-stamps served over HTTP, next to the raw signing rate of the same keys.

    python bench/pki.py [--seconds 5] [--clients 4]

Starts ``esign init --no-demo`` and ``esign serve`` on a loopback port with a throwaway data directory,
then keeps ``--clients`` keep-alive HTTP clients busy with one kind of request at a time. The raw rate is
``cryptography`` signing a SHA-256 digest with the responder's (or the TSA's) own key in this process:
the ceiling a responder that did nothing else could reach.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from asn1crypto import algos, tsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_rate(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, seconds: float) -> float:
    data = os.urandom(32)
    sign: Callable[[], bytes]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        sign = lambda: key.sign(data, ec.ECDSA(hashes.SHA256()))  # noqa: E731
    else:
        sign = lambda: key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # noqa: E731
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign()
        count += 1
    return count / (time.perf_counter() - start)


def served_rate(
    url: str, body: bytes, content_type: str, check: Callable[[bytes], None], *, seconds: float, clients: int
) -> float:
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        with httpx.Client(timeout=30) as http:
            while time.perf_counter() < deadline:
                response = http.post(url, content=body, headers={"Content-Type": content_type})
                check(response.content)
                counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    from esign.db import Database
    from esign.settings import Settings
    from keys import authorities

    esign = Path(sys.executable).parent / "esign"
    with tempfile.TemporaryDirectory(prefix="esign-bench-pki-") as tmp:
        port = _free_port()
        env = {**os.environ, "ESIGN_DATA_DIR": tmp, "ESIGN_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        for name in ("ESIGN_DATABASE_URL", "ESIGN_DATABASE_SCHEMA"):
            env.pop(name, None)
        subprocess.run([str(esign), "init", "--no-demo"], env=env, check=True, capture_output=True)
        settings = Settings(data_dir=Path(tmp), public_url=env["ESIGN_PUBLIC_URL"])
        database = Database.from_settings(settings)
        with database.transaction() as session:
            pki = authorities.load(session, settings)
        database.dispose()

        server = subprocess.Popen(
            [str(esign), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            request = ocsp.OCSPRequestBuilder().add_certificate(pki.tsa.cert, pki.issuing.cert, hashes.SHA1()).build()

            def ocsp_good(body: bytes) -> None:
                assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.GOOD

            query = tsp.TimeStampReq(
                {
                    "version": 1,
                    "message_imprint": {
                        "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                        "hashed_message": os.urandom(32),
                    },
                    "nonce": int.from_bytes(os.urandom(8), "big"),
                    "cert_req": True,
                }
            ).dump()

            def granted(body: bytes) -> None:
                assert tsp.TimeStampResp.load(body)["status"]["status"].native == "granted"

            served_ocsp = served_rate(
                f"{base}/pki/ocsp",
                request.public_bytes(serialization.Encoding.DER),
                "application/ocsp-request",
                ocsp_good,
                seconds=args.seconds,
                clients=args.clients,
            )
            served_tsa = served_rate(
                f"{base}/pki/tsa",
                query,
                "application/timestamp-query",
                granted,
                seconds=args.seconds,
                clients=args.clients,
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
        raw_ocsp = raw_rate(pki.ocsp.key, args.seconds)
        raw_tsa = raw_rate(pki.tsa.key, args.seconds)

    kind = "ECDSA P-256" if isinstance(pki.ocsp.key, ec.EllipticCurvePrivateKey) else "RSA-3072"
    print(f"{'service':<28}{'served /s':>12}{'raw sign /s':>14}{'served/raw':>12}")
    print(f"{'OCSP responses':<28}{served_ocsp:>12.1f}{raw_ocsp:>14.1f}{served_ocsp / raw_ocsp:>11.3f}×")
    print(f"{'RFC 3161 time-stamps':<28}{served_tsa:>12.1f}{raw_tsa:>14.1f}{served_tsa / raw_tsa:>11.3f}×")
    print(
        f"\n{kind} keys; one `esign serve` process (uvicorn), {args.clients} keep-alive clients on this machine, "
        f"{args.seconds:g} s each"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
