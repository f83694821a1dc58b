"""The operator's commands: organisations, departments, officials, credentials, tokens, revocation."""

from __future__ import annotations

import re
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


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page's form carries its CSRF token"
    return found.group(1)


def test_an_invitation_from_the_cli_or_the_api_lets_an_official_set_a_password(
    env: dict[str, str], api: TestClient
) -> None:
    org = _ok(
        "org", "create", "--name", "丁市", "--short-name", "丁", "--uscc", uscc.complete("11440300MB4000004"), env=env
    )
    department = _ok("department", "create", "--org", org, "--name", "办公室", env=env)
    official = _ok("official", "create", "--org", org, "--department", department, "--name", "钱八", env=env)
    admin = _ok(
        "official", "create", "--org", org, "--department", department, "--name", "孙九", "--roles", "admin", env=env
    )
    assert "needs a login name" in esign("user", "invite", official, env=env).stderr
    printed = _ok("user", "invite", official, "--login", "QianBa", env=env)
    assert "login name qianba" in printed
    link = printed.splitlines()[-1]
    assert link.startswith("http://127.0.0.1:9/invitation/esi_")
    path = link.removeprefix("http://127.0.0.1:9")

    page = api.get(path)
    assert page.status_code == 200 and "钱八" in page.text and "丁市" in page.text
    assert api.post(path, data={"password": "a good password", "confirm": "a good password"}).status_code == 403
    done = api.post(
        path,
        data={"password": "a good password", "confirm": "a good password", "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?welcome=1&login=qianba"
    assert api.get(path).status_code == 404, "the link works once"
    login = api.get("/login")
    signed_in = api.post(
        "/login",
        data={"login": "qianba", "password": "a good password", "csrf_token": _csrf(login.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and "esign_session" in signed_in.cookies
    assert api.get("/v1/organisation").json()["name"] == "丁市", "a signed-in browser reads the API"
    assert api.post("/v1/departments", json={"name": "x"}).status_code == 401, "but changes nothing through it"

    by_official = {"Authorization": f"Bearer {_ok('token', 'create', '--official', official, env=env)}"}
    by_admin = {"Authorization": f"Bearer {_ok('token', 'create', '--official', admin, env=env)}"}
    assert api.post(f"/v1/officials/{official}/invitations", headers=by_official, json={}).status_code == 403
    answer = api.post(f"/v1/officials/{official}/invitations", headers=by_admin, json={})
    assert answer.status_code == 201 and answer.json()["login"] == "qianba"
    taken = api.post(f"/v1/officials/{admin}/invitations", headers=by_admin, json={"login": "qianba"})
    assert taken.status_code == 409
