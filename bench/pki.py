"""OCSP responses and RFC 3161 time-stamps served over HTTP, next to the raw signing rate of the same keys.

    python bench/pki.py [--seconds 5] [--clients 4]

Starts ``esign init --no-demo`` and ``esign serve`` on a loopback port with a throwaway data directory,
then keeps ``--clients`` keep-alive HTTP/1.1 clients busy with one kind of request at a time, each in a
process of its own and checking every answer (a good OCSP status, the nonce echoed; a granted
time-stamp). The raw rate is ``cryptography`` signing a SHA-256 digest with the responder's (or the
TSA's) own key in this process: the ceiling a responder that did nothing else could reach. It is taken
before and after the served rates and averaged, so that a busy machine skews the ratios less.

The clients write requests on plain sockets: threads sharing one interpreter with httpx top out near
2,000 requests/s on two cores against a server that answers with a constant, so they measured themselves.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from asn1crypto import algos, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.api.served import free_port, wait_until_healthy  # noqa: E402


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


def _ocsp_check(nonce: bytes | None) -> Callable[[bytes], None]:
    def check(body: bytes) -> None:
        response = ocsp.load_der_ocsp_response(body)
        assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
        if nonce is not None:
            assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce

    return check


def _granted(body: bytes) -> None:
    assert tsp.TimeStampResp.load(body)["status"]["status"].native == "granted"


def _check_for(kind: str, nonce: bytes | None) -> Callable[[bytes], None]:
    return _granted if kind == "tsa" else _ocsp_check(nonce)


def _exchange(connection: socket.socket, request: bytes, buffer: bytes) -> tuple[bytes, bytes]:
    """Send one request; the response body and what was read past it. Answers carry Content-Length."""
    connection.sendall(request)
    while b"\r\n\r\n" not in buffer:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status, *headers = head.split(b"\r\n")
    assert status.split(b" ")[1] == b"200", status
    length = next(int(v) for k, _, v in (h.partition(b":") for h in headers) if k.strip().lower() == b"content-length")
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        rest += chunk
    return rest[:length], rest[length:]


def _client(
    port: int, path: str, body: bytes, content_type: str, check: tuple[str, bytes | None], seconds: float, go: object
) -> tuple[int, float]:
    checker = _check_for(*check)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        answer, buffer = _exchange(connection, request, b"")
        checker(answer)
        go.wait()  # type: ignore[attr-defined]  # a multiprocessing Event
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            answer, buffer = _exchange(connection, request, buffer)
            checker(answer)
            count += 1
    return count, elapsed


def served_rate(
    port: int,
    path: str,
    body: bytes,
    content_type: str,
    check: tuple[str, bytes | None],
    *,
    seconds: float,
    clients: int,
) -> float:
    """Answers per second summed over ``clients`` client processes, all started before the clock."""
    context = multiprocessing.get_context("spawn")
    go = context.Manager().Event()
    with context.Pool(clients) as pool:
        results = [
            pool.apply_async(_client, (port, path, body, content_type, check, seconds, go)) for _ in range(clients)
        ]
        time.sleep(1.0)
        go.set()
        return sum(count / elapsed for count, elapsed in (r.get(timeout=seconds + 60) for r in results))


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
        port = free_port()
        env = {**os.environ, "ESIGN_DATA_DIR": tmp, "ESIGN_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        for name in ("ESIGN_DATABASE_URL", "ESIGN_DATABASE_SCHEMA"):
            env.pop(name, None)
        subprocess.run([str(esign), "init", "--no-demo"], env=env, check=True, capture_output=True)
        settings = Settings(data_dir=Path(tmp), public_url=env["ESIGN_PUBLIC_URL"])
        database = Database.from_settings(settings)
        with database.transaction() as session:
            pki = authorities.load(session, settings)
        database.dispose()
        raw_before = (raw_rate(pki.ocsp.key, args.seconds), raw_rate(pki.tsa.key, args.seconds))

        server = subprocess.Popen(
            [str(esign), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_healthy(server, f"http://127.0.0.1:{port}", output=lambda: "")
            nonce = os.urandom(16)
            builder = ocsp.OCSPRequestBuilder().add_certificate(pki.tsa.cert, pki.issuing.cert, hashes.SHA1())
            plain = builder.build().public_bytes(serialization.Encoding.DER)
            with_nonce = (
                builder.add_extension(x509.OCSPNonce(nonce), critical=False)
                .build()
                .public_bytes(serialization.Encoding.DER)
            )
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
            measure = {"seconds": args.seconds, "clients": args.clients}
            ocsp_type, tsa_type = "application/ocsp-request", "application/timestamp-query"
            served_ocsp = served_rate(port, "/pki/ocsp", plain, ocsp_type, ("ocsp", None), **measure)
            served_nonce = served_rate(port, "/pki/ocsp", with_nonce, ocsp_type, ("ocsp", nonce), **measure)
            served_tsa = served_rate(port, "/pki/tsa", query, tsa_type, ("tsa", None), **measure)
        finally:
            server.terminate()
            server.wait(timeout=20)
        raw_after = (raw_rate(pki.ocsp.key, args.seconds), raw_rate(pki.tsa.key, args.seconds))
    raw_ocsp, raw_tsa = ((before + after) / 2 for before, after in zip(raw_before, raw_after, strict=True))

    kind = "ECDSA P-256" if isinstance(pki.ocsp.key, ec.EllipticCurvePrivateKey) else "RSA-3072"
    print(f"{'service':<28}{'served /s':>12}{'raw sign /s':>14}{'served/raw':>12}")
    for name, served, raw in (
        ("OCSP responses", served_ocsp, raw_ocsp),
        ("OCSP responses, nonce", served_nonce, raw_ocsp),
        ("RFC 3161 time-stamps", served_tsa, raw_tsa),
    ):
        print(f"{name:<28}{served:>12.1f}{raw:>14.1f}{served / raw:>11.3f}×")
    print(
        f"\n{kind} keys; one `esign serve` process (uvicorn), {args.clients} keep-alive client "
        f"processes on this machine, {args.seconds:g} s each"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
