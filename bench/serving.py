"""``esign init`` and ``esign serve`` as the benches start them: a data directory of the bench's, a free loopback
port, this checkout's code whichever venv runs it, and the demo officials' tokens and passwords.

Imports esign (through ``tests.api.served``): a bench whose naive side runs in a child that must not import it
imports this inside ``main``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.api.served import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
ESIGN = Path(sys.executable).parent / "esign"
_NOT_INHERITED = ("ESIGN_DATABASE_URL", "ESIGN_DATABASE_SCHEMA", "ESIGN_KEY_KIND", "ESIGN_PARSE_WORKERS")
"""Not passed on from the environment unless given: the instance has its own SQLite database and defaults."""


@dataclass(frozen=True)
class Instance:
    base: str
    port: int
    data: Path
    env: dict[str, str]

    def _rows(self, name: str) -> list[list[str]]:
        return [line.split("\t") for line in (self.data / name).read_text().splitlines()]

    def tokens(self) -> dict[str, str]:
        """Demo official's name → bearer token."""
        return {official: token for token, _org, official, _roles in self._rows("demo-tokens.tsv")}

    def login(self, official: str) -> tuple[str, str]:
        """The demo official's login name and password."""
        return next(
            (login, password) for login, password, _org, name in self._rows("demo-passwords.tsv") if name == official
        )


def initialised(data: Path, env: Mapping[str, str] | None = None) -> Instance:
    """``esign init`` into ``data`` (with its demo organisations), for a server on a free port; ``env`` adds to or
    replaces the environment (a PostgreSQL schema, a setting)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    inherited = {name: value for name, value in os.environ.items() if name not in _NOT_INHERITED}
    merged = {
        **inherited,
        "ESIGN_DATA_DIR": str(data),
        "ESIGN_PUBLIC_URL": base,
        "PYTHONPATH": python_path,
        **(env or {}),
    }
    made = subprocess.run([str(ESIGN), "init"], env=merged, capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"esign init failed:\n{made.stdout}{made.stderr}")
    return Instance(base=base, port=port, data=data, env=merged)


@contextmanager
def serving(instance: Instance, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """``esign serve`` on the instance's port with ``options``, until the block ends."""
    server = subprocess.Popen(
        [str(ESIGN), "serve", "--port", str(instance.port), *options],
        env=instance.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(server, instance.base, output=lambda: "")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)
