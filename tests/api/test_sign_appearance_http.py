"""``POST /v1/sign`` with a visible box: a reason the block can print is wrapped into it, a longer one is
refused with a 422 that names the field and its limit, before any PIN is tried."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings
from esign.signature_block import MAX_REASON_CHARS
from tests.world import PIN, World


@pytest.fixture
def api(db_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as client:
        yield client


def _sign(api: TestClient, world: World, pdf: bytes, **form: str) -> httpx.Response:
    leader = world.orgs["A"].members["leader"]
    assert leader.credential_id is not None
    return api.post(
        "/v1/sign",
        headers=leader.headers,
        files={"file": ("doc.pdf", pdf, "application/pdf")},
        data={"credential_id": leader.credential_id, "pin": PIN, **form},
    )


def test_a_reason_over_the_limit_is_refused_naming_field_and_limit(
    api: TestClient, world: World, one_page_pdf: bytes
) -> None:
    response = _sign(api, world, one_page_pdf, reason="同" * 3000, visible="1:340,250,540,370")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert "reason" in problem["message"] and str(MAX_REASON_CHARS) in problem["message"], problem


def test_a_reason_within_the_limit_is_wrapped_into_the_block(
    api: TestClient, world: World, one_page_pdf: bytes
) -> None:
    response = _sign(api, world, one_page_pdf, reason="同意按此方案执行。" * 8, visible="1:340,250,540,370")
    assert response.status_code == 200, response.text
    assert response.content.startswith(one_page_pdf)
