"""Nothing from a library's internals reaches the user of ``esign``: no warnings, no tracebacks, no library paths.

Every command's ``--help`` runs in one real process (warnings are printed while modules are imported, so
only a fresh interpreter shows them); one error path per top-level command runs as the real ``esign``.
The commands are discovered from the typer app, so a new one is covered, or asks for its error path here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from api.cli import app
from tests.api.cli import esign

ROOT = Path(__file__).resolve().parents[2]

# Anything of that kind on stderr came from below our code.
FOREIGN = re.compile(r"warning|traceback|site-packages|\.py\b|\.py:\d|File \"", re.IGNORECASE)

# Runs every command's --help inside one interpreter that imported the CLI as the console script does; reports
# on stdout, as JSON, what each wrote to stderr and its exit code.
HELP_ALL = r"""
import contextlib, io, json, sys
from api.cli import app
import typer

def walk(command, path):
    yield path
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from walk(sub, [*path, name])

results = {}
for path in walk(typer.main.get_command(app), []):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            app([*path, "--help"], prog_name="esign")
            code = 0
        except SystemExit as e:
            code = e.code
    results[" ".join(path)] = {"code": code, "stderr": stderr.getvalue(), "usage": "Usage" in stdout.getvalue()}
sys.__stdout__.write(json.dumps(results))
"""


def commands() -> list[list[str]]:
    """Every command path of the CLI ([] is ``esign`` itself)."""

    def walk(command: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(app), [])


def test_every_help_is_clean_from_a_fresh_process() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HELP_ALL], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"printed while importing the CLI:\n{result.stderr}"
    results = json.loads(result.stdout)
    expected = {" ".join(path) for path in commands()}
    assert set(results) == expected
    assert {"", "sign", "verify", "serve", "db upgrade", "org create"} <= expected, "the discovery walked the groups"
    bad = {
        name or "esign": r for name, r in results.items() if r["code"] not in (0, None) or r["stderr"] or not r["usage"]
    }
    assert not bad, bad


# One failing invocation per top-level command: (arguments, environment). The data directory is a fresh one,
# so its SQLite database has no tables yet.
UNREACHABLE = {"ESIGN_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/esign"}
ERROR_PATHS: dict[str, tuple[list[str], dict[str, str]]] = {
    "serve": (["serve", "--port", "1"], UNREACHABLE),
    "worker": (["worker"], {}),
    "init": (["init"], UNREACHABLE),
    "sign": (["sign", "missing.pdf", "-o", "out.pdf", "--key", "k.pem", "--cert", "c.pem"], {}),
    "verify": (["verify", "missing.pdf"], {}),
    "db": (["db", "upgrade"], UNREACHABLE),
    "audit": (["audit", "verify"], {}),
    "org": (["org", "list"], {}),
    "department": (["department", "list", "--org", "nope"], {}),
    "official": (["official", "list", "--org", "nope"], {}),
    "credential": (["credential", "list", "--org", "nope"], {}),
    "token": (["token", "create"], {}),
    "user": (["user", "invite", "nope"], {}),
    "pki": (["pki", "revoke", "zz"], {}),
    "calendar": (["calendar", "show", "2024-10-01"], {}),
    "archive": (["archive", "status"], {}),
    "blobs": (["blobs", "migrate"], {}),
}


def test_every_top_level_command_has_an_error_path_here() -> None:
    assert set(ERROR_PATHS) == {path[0] for path in commands() if len(path) == 1}


@pytest.mark.parametrize("command", sorted(ERROR_PATHS))
def test_an_error_is_one_line_of_ours(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ESIGN_DATABASE_URL", "ESIGN_DATABASE_SCHEMA", "ESIGN_CA_PASSPHRASE", "ESIGN_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)
    args, env = ERROR_PATHS[command]
    result = esign(*args, env={"ESIGN_DATA_DIR": str(tmp_path / "var"), **env}, cwd=tmp_path)
    assert result.returncode not in (0, 1), result.stderr  # 1 is typer's exit code for an uncaught exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not FOREIGN.search(lines[0]), lines[0]
