"""The operator's commands: organisations, departments, officials, credentials, tokens, revocation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.db import Database
from esign.settings import Settings
from keys import uscc
from tests.api.cli import esign, initialised


@pytest.fixture
def env(db: Database, tmp_path: Path) -> dict[str, str]:
    return initialised(db, tmp_path / "var")


@pytest.fixture
def api(db: Database, env: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=Path(env["ESIGN_DATA_DIR"]),
        database_url=env["ESIGN_DATABASE_URL"],
        database_schema=env.get("ESIGN_DATABASE_SCHEMA"),
        ca_passphrase=env["ESIGN_CA_PASSPHRASE"],
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _ok(*args: str, env: dict[str, str]) -> str:
    result = esign(*args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_a_bad_unified_code_is_refused_with_the_reason(env: dict[str, str]) -> None:
    code = uscc.complete("91440300MA5FAKE00")
    broken = code[:-1] + ("0" if code[-1] != "0" else "1")
    result = esign("org", "create", "--name", "某公司", "--short-name", "某", "--uscc", broken, env=env)
    assert result.returncode == 2 and "check character" in result.stderr
    assert "organisations" in esign("org", "list", env=env).stdout


def test_the_operator_sets_up_an_organisation_end_to_end(env: dict[str, str], api: TestClient) -> None:
    org = _ok(
        "org",
        "create",
        "--name",
        "丙市财政局",
        "--short-name",
        "丙财",
        "--uscc",
        uscc.complete("11440300MB3000003"),
        env=env,
    )
    department = _ok("department", "create", "--org", org, "--name", "预算处", env=env)
    official = _ok(
        "official",
        "create",
        "--org",
        org,
        "--department",
        department,
        "--name",
        "钱八",
        "--roles",
        "leader,official",
        env=env,
    )
    assert "钱八" in _ok("official", "list", "--org", org, env=env)

    enrolled = _ok("credential", "enrol", "--org", org, "--official", official, env={**env, "ESIGN_PIN": "97531086"})
    credential_id, serial = enrolled.split()[0], enrolled.split()[-1]
    token = _ok("token", "create", "--official", official, env=env)
    headers = {"Authorization": f"Bearer {token}"}
    listed = api.get("/v1/credentials", headers=headers).json()
    assert [c["id"] for c in listed] == [credential_id] and listed[0]["status"] == "active"

    system = _ok("token", "create", "--system", "财政OA", "--org", org, env=env)
    assert api.get("/v1/organisation", headers={"Authorization": f"Bearer {system}"}).json()["name"] == "丙市财政局"

    revoked = _ok("pki", "revoke", serial, "--reason", "keyCompromise", env=env)
    assert "keyCompromise" in revoked
    assert api.get(f"/v1/credentials/{credential_id}", headers=headers).json()["status"] == "revoked"
    assert esign("pki", "revoke", serial, env=env).returncode == 2, "revoking twice is refused"

    assert _ok("official", "disable", "--org", org, official, env=env) == ""
    assert api.get("/v1/organisation", headers=headers).status_code == 401
    assert "BEGIN CERTIFICATE" in _ok("pki", "show", env=env)


def test_token_create_needs_one_subject(env: dict[str, str]) -> None:
    result = esign("token", "create", env=env)
    assert result.returncode == 2 and "either --official" in result.stderr


def test_token_lifetimes_are_bounded(env: dict[str, str]) -> None:
    """A token of 0 days would be expired when printed; one of a lifetime outlives any review."""
    for days in ("0", "-3", "3651"):
        result = esign("token", "create", "--system", "OA", "--org", "any", "--days", days, env=env)
        assert result.returncode == 2, (days, result.stdout)
        message = " ".join(result.stderr.replace("│", " ").split())
        assert "Invalid value for '--days'" in message, message
        assert result.stdout == "", "no token was printed"
