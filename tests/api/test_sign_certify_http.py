"""``POST /v1/sign`` certifies, as ``esign sign --certify`` does: a DocMDP signature (ISO 32000-1 §12.8.2.2)
with the permission asked for, read back by pyhanko."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data

from api.app import create_app
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca
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


@pytest.mark.parametrize(
    ("certify", "permission"),
    [("no_changes", MDPPerm.NO_CHANGES), ("form_filling", MDPPerm.FILL_FORMS), ("annotations", MDPPerm.ANNOTATE)],
)
def test_a_certification_signature_with_the_permission_asked_for(
    api: TestClient, world: World, one_page_pdf: bytes, certify: str, permission: MDPPerm
) -> None:
    response = _sign(api, world, one_page_pdf, certify=certify, reason="核稿")
    assert response.status_code == 200, response.text
    reader = PdfFileReader(io.BytesIO(response.content))
    certification = read_certification_data(reader)
    assert certification is not None and certification.permission is permission
    [signature] = reader.embedded_regular_signatures
    assert reader.embedded_timestamp_signatures, "B-LTA by default: a document time-stamp follows, as P 1 allows"
    assert signature.sig_field.raw_get("/V").reference == reader.root["/Perms"].raw_get("/DocMDP").reference
    [report] = verify(response.content, TrustSettings().with_anchors(ca.pem(world.pki.root.cert))).signatures
    assert report.type == "certification" and report.docmdp == certify and report.indication == "TOTAL-PASSED"


def test_without_certify_the_signature_approves(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    response = _sign(api, world, one_page_pdf)
    assert response.status_code == 200, response.text
    assert read_certification_data(PdfFileReader(io.BytesIO(response.content))) is None


def test_only_the_first_signature_can_certify(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    signed = _sign(api, world, one_page_pdf).content
    response = _sign(api, world, signed, certify="form_filling")
    assert response.status_code == 422 and response.json()["code"] == "signing_failed", response.text
    assert "first" in response.json()["message"]


def test_an_unknown_permission_is_refused(api: TestClient, world: World, one_page_pdf: bytes) -> None:
    response = _sign(api, world, one_page_pdf, certify="everything")
    assert response.status_code == 422, response.text
