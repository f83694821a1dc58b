"""``esign serve`` over real HTTP on a loopback port: docs, streaming upload limits, staying up."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from esign.db import Database
from esign.sign import sign
from esign.signers import KeySigner
from tests.api.cli import ESIGN, database_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(
    tmp_path: Path, root_pem_path: Path, new_database: Callable[[], Database]
) -> Iterator[str]:
    """A served instance on its own database (a fresh schema on PostgreSQL), migrated by ``esign serve``."""
    port = _free_port()
    env = {
        "ESIGN_DATA_DIR": str(tmp_path / "var"),
        "ESIGN_TRUST_ANCHORS": str(root_pem_path),
        "ESIGN_MAX_UPLOAD_MB": "1",
        "PATH": str(ESIGN.parent),
    }
    if (database := new_database()).dialect == "postgresql":
        env |= database_env(database)
    process = subprocess.Popen(
        [str(ESIGN), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"esign serve did not come up:\n{process.stdout.read() if process.stdout else ''}")
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=20)


def test_served_docs_limits_and_recovery(server: str, ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.get("/docs").status_code == 200
        assert "/v1/verify" in http.get("/openapi.json").json()["paths"]

        big = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024)
        response = http.post("/v1/verify", files={"file": ("big.pdf", big, "application/pdf")})
        assert response.status_code == 413 and response.json()["code"] == "too_large"

    def chunks() -> Iterator[bytes]:
        boundary = b"--esign-boundary\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n%PDF-1.7\n'
        for _ in range(64):
            yield b"0" * 65536

    with httpx.Client(base_url=server, timeout=30) as http:
        response = http.post(
            "/v1/verify",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=esign-boundary"},
        )
        assert response.status_code == 413 and response.json()["code"] == "too_large"

    with httpx.Client(base_url=server, timeout=30) as http:
        response = http.post("/v1/verify", files={"file": ("doc.pdf", sign(one_page_pdf, ec_signer), "application/pdf")})
        assert response.status_code == 200 and response.json()["valid"] is True
