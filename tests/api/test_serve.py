"""``esign serve`` over real HTTP on a loopback port: docs, streaming upload limits, staying up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from esign.db import Database
from esign.sign import sign
from esign.signers import KeySigner
from tests.api.served import served


@pytest.fixture
def server(tmp_path: Path, root_pem_path: Path, new_database: Callable[[], Database]) -> Iterator[str]:
    env = {"ESIGN_TRUST_ANCHORS": str(root_pem_path), "ESIGN_MAX_UPLOAD_MB": "1"}
    with served(tmp_path, new_database, init=False, extra_env=env) as instance:
        yield instance.url


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
        response = http.post(
            "/v1/verify", files={"file": ("doc.pdf", sign(one_page_pdf, ec_signer), "application/pdf")}
        )
        assert response.status_code == 200 and response.json()["valid"] is True
