"""``esign serve`` over real HTTP on a loopback port: docs, streaming upload limits, staying up."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from api.cli import served_settings
from esign.db import Database
from esign.settings import Settings
from esign.sign import sign
from esign.signers import KeySigner
from tests.api.cli import esign
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


def test_a_busy_port_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = esign("serve", "--port", str(port), env={"ESIGN_DATA_DIR": str(tmp_path / "var")})
    assert result.returncode == 2 and "serving on" not in result.stdout, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert f"cannot serve on 127.0.0.1:{port}" in line and f"make run PORT={port + 1}" in line, line


def test_the_public_url_follows_the_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESIGN_PUBLIC_URL", raising=False)
    assert served_settings(Settings(), "127.0.0.1", 8080).public_url == "http://127.0.0.1:8080"
    monkeypatch.setenv("ESIGN_PUBLIC_URL", "https://esign.example.gov.cn")
    assert served_settings(Settings(), "127.0.0.1", 8080).public_url == "https://esign.example.gov.cn"


def test_make_run_takes_another_port_and_the_public_url_follows() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "ESIGN_PUBLIC_URL"}
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=root, capture_output=True, text=True, env=env, check=True
    ).stdout
    commands = [line for line in plan.splitlines() if "bin/esign " in line]
    assert commands == [
        "ESIGN_PUBLIC_URL='http://127.0.0.1:8123' .venv/bin/esign init",
        "ESIGN_PUBLIC_URL='http://127.0.0.1:8123' .venv/bin/esign serve --host 127.0.0.1 --port 8123",
    ], plan
