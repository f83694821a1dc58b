"""``esign init`` + ``esign serve`` as a user runs them, on a loopback port and a database of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from esign.db import Database
from tests.api.cli import ESIGN, database_env, esign


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    data_dir: Path
    env: dict[str, str]
    tokens: dict[str, str]
    """Demo official's name → bearer token (from ``esign init``)."""

    def headers(self, official: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[official]}"}


@contextmanager
def served(
    tmp_path: Path, new_database: Callable[[], Database], *, init: bool, extra_env: dict[str, str] | None = None
) -> Iterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "var"
    env = {"ESIGN_DATA_DIR": str(data_dir), "ESIGN_PUBLIC_URL": url, **(extra_env or {})}
    if (database := new_database()).dialect == "postgresql":
        env |= database_env(database)
    tokens: dict[str, str] = {}
    if init:
        result = esign("init", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        for line in (data_dir / "demo-tokens.tsv").read_text().splitlines():
            token, _org, official, _roles = line.split("\t")
            tokens[official] = token
    # PYTHONPATH goes along so that a checkout run against another one's venv serves its own code.
    inherited = {name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}
    process = subprocess.Popen(
        [str(ESIGN), "serve", "--port", str(port)],
        env={**env, **inherited, "PATH": str(ESIGN.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_until_healthy(process, url, output=lambda: process.stdout.read() if process.stdout else "")
    try:
        yield Served(url=url, data_dir=data_dir, env=env, tokens=tokens)
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_until_healthy(process: subprocess.Popen[Any], url: str, *, output: Callable[[], str]) -> None:
    """Until ``url``/health answers 200; fails the test, with what the server printed, if it exits or takes
    more than a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"esign serve did not come up:\n{output()}")
        time.sleep(0.2)
