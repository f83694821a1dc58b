"""Running the installed ``esign`` command as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from esign.db import Database

ESIGN = Path(sys.executable).parent / "esign"


def esign(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(ESIGN)] if ESIGN.exists() else [sys.executable, "-m", "api"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def database_env(database: Database) -> dict[str, str]:
    env = {"ESIGN_DATABASE_URL": database.url.render_as_string(hide_password=False)}
    if database.schema:
        env["ESIGN_DATABASE_SCHEMA"] = database.schema
    return env


def initialised(database: Database, data_dir: Path) -> dict[str, str]:
    """The environment of a service set up by ``esign init --no-demo`` on ``database``, its files in ``data_dir``."""
    environment = {
        **database_env(database),
        "ESIGN_DATA_DIR": str(data_dir),
        "ESIGN_CA_PASSPHRASE": "cli test passphrase",
        "ESIGN_PUBLIC_URL": "http://127.0.0.1:9",
    }
    result = esign("init", "--no-demo", env=environment)
    assert result.returncode == 0, result.stderr
    return environment
