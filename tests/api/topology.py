"""The production topology in small: ``esign`` processes that share only a database, an object store and settings.

Each process gets a data directory of its own, empty but for what it writes itself, so that nothing can pass
from one to another through a file: what they share is what every host of a deployment shares.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from esign.db import Database
from tests.api.cli import ESIGN, database_env, esign
from tests.api.served import free_port, wait_until_healthy
from tests.seaweedfs import ObjectStore

CA_PASSPHRASE = "topology test CA passphrase"


def shared_env(database: Database, store: ObjectStore, public_url: str) -> dict[str, str]:
    """The settings every host must share (README, "Production topology"), for these tests."""
    return {
        **database_env(database),
        "ESIGN_BLOB_URL": store.url,
        "ESIGN_S3_ACCESS_KEY_ID": store.access_key_id or "",
        "ESIGN_S3_SECRET_ACCESS_KEY": store.secret_access_key or "",
        "ESIGN_CA_PASSPHRASE": CA_PASSPHRASE,
        "ESIGN_PUBLIC_URL": public_url,
        "ESIGN_TIMEZONE": "Asia/Shanghai",
        "ESIGN_WEBHOOKS_ALLOW_PRIVATE": "true",
        "ESIGN_PARSE_WORKERS": "1",
    }


def initialise(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    """``esign init`` with the demo data; demo official's name → bearer token."""
    result = esign("init", env={**env, "ESIGN_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stdout + result.stderr
    tokens = {}
    for line in (data_dir / "demo-tokens.tsv").read_text(encoding="utf-8").splitlines():
        token, _org, official, _roles = line.split("\t")
        tokens[official] = token
    return tokens


@contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``esign ARGS`` running (PYTHONPATH passed on: a checkout run with another's venv runs its own code)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ESIGN), *args], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@contextmanager
def api_process(env: dict[str, str], workdir: Path, port: int | None = None) -> Iterator[str]:
    """``esign serve --no-worker`` on ``port`` (else a free one), with a data directory of its own in ``workdir``;
    its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = workdir / "serve.log"
    args = ["serve", "--no-worker", "--port", str(port)]
    with started(args, {**env, "ESIGN_DATA_DIR": str(workdir / "var")}, log) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, url, output=log.read_text)
        yield url


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
