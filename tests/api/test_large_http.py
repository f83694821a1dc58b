"""Uploads larger than ESIGN_UPLOAD_IN_MEMORY_KB: signed and verified from a file on disk, as streams."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings
from tests.world import PIN, World


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture
def from_files(db_settings: Settings, root_pem_path: Path, spool_dir: Path) -> Iterator[TestClient]:
    """Every upload handled from a file: nothing is small enough to stay in memory."""
    settings = db_settings.model_copy(
        update={"trust_anchors": [root_pem_path], "upload_in_memory_kb": 0, "max_upload_mb": 1}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _spooled(directory: Path) -> list[Path]:
    return list(directory.glob("esign-upload-*"))


def test_a_pdf_signed_from_a_file_at_b_lta_verifies_valid(
    from_files: TestClient, world: World, one_page_pdf: bytes, spool_dir: Path
) -> None:
    official = world.orgs["A"].members["official"]
    response = from_files.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("doc.pdf", one_page_pdf, "application/pdf")},
        data={"credential_id": official.credential_id, "pin": PIN, "level": "B-LTA"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    signed = response.content
    assert signed.startswith(one_page_pdf) and len(signed) > len(one_page_pdf)
    assert not _spooled(spool_dir), "the upload's directory is removed once the signed PDF has been sent"

    report = from_files.post("/v1/verify", files={"file": ("signed.pdf", signed, "application/pdf")})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["verdict"] == "valid" and body["size"] == len(signed)
    assert [s["pades_level"] for s in body["signatures"]] == ["B-LTA"]
    assert not _spooled(spool_dir)


def test_a_file_that_is_not_a_pdf_is_refused_and_its_copy_removed(
    from_files: TestClient, world: World, spool_dir: Path
) -> None:
    official = world.orgs["A"].members["official"]
    response = from_files.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("doc.pdf", b"not a pdf at all", "application/pdf")},
        data={"credential_id": official.credential_id, "pin": PIN},
    )
    assert response.status_code == 422 and response.json()["code"] == "pdf_malformed"
    assert not _spooled(spool_dir)


def test_an_upload_past_the_limit_is_413(from_files: TestClient, world: World, spool_dir: Path) -> None:
    """One byte over ESIGN_MAX_UPLOAD_MB (1 MiB here): within the body's allowance for the multipart envelope,
    so the route's own check answers."""
    official = world.orgs["A"].members["official"]
    over = b"%PDF-1.7\n" + b"0" * (1024 * 1024 - 8)
    response = from_files.post(
        "/v1/sign",
        headers=official.headers,
        files={"file": ("doc.pdf", over, "application/pdf")},
        data={"credential_id": official.credential_id, "pin": PIN},
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    response = from_files.post("/v1/verify", files={"file": ("doc.pdf", over, "application/pdf")})
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert not _spooled(spool_dir)


def test_a_large_upload_becomes_a_document_stored_from_its_file(
    from_files: TestClient, world: World, one_page_pdf: bytes, spool_dir: Path
) -> None:
    """The PDF is verified, assessed and stored from the spooled file; a retry with the same key is the same
    document, and the stored revision is the file byte for byte."""
    clerk = world.orgs["A"].members["clerk"]
    headers = {**clerk.headers, "Idempotency-Key": "large-intake-1"}
    files = {"file": ("in.pdf", one_page_pdf, "application/pdf")}
    created = from_files.post("/v1/documents", headers=headers, files=files, data={"title": "大文件"})
    assert created.status_code == 201, created.text
    again = from_files.post("/v1/documents", headers=headers, files=files, data={"title": "大文件"})
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"], "replayed"
    changed = {"file": ("in.pdf", one_page_pdf + b"\n", "application/pdf")}
    other = from_files.post("/v1/documents", headers=headers, files=changed, data={"title": "大文件"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict", "another file, the same key"
    assert not _spooled(spool_dir)

    document = created.json()["id"]
    [revision] = from_files.get(f"/v1/documents/{document}/revisions", headers=clerk.headers).json()
    assert revision["size"] == len(one_page_pdf) and revision["sha256"] == hashlib.sha256(one_page_pdf).hexdigest()
    assert revision["has_verification"] and revision["detail"]["signatures"] == 0
    served = from_files.get(f"/v1/documents/{document}/pdf", headers=clerk.headers)
    assert served.status_code == 200 and served.content == one_page_pdf


def test_a_large_document_is_signed_from_its_file_and_stored_as_the_next_revision(
    from_files: TestClient, world: World, one_page_pdf: bytes, spool_dir: Path
) -> None:
    """Circulation's sign-off of a document above the in-memory size: the revision copied from the store to a
    file (digest checked), signed into another, stored from it; the spool is gone afterwards."""
    clerk, leader = world.orgs["A"].members["clerk"], world.orgs["A"].members["leader"]
    files = {"file": ("in.pdf", one_page_pdf, "application/pdf")}
    document = from_files.post("/v1/documents", headers=clerk.headers, files=files).json()["id"]

    signed = from_files.post(
        f"/v1/documents/{document}/sign",
        headers=leader.headers,
        json={"credential_id": leader.credential_id, "pin": PIN, "level": "B-LTA"},
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["seq"] == 2
    assert not _spooled(spool_dir)

    pdf = from_files.get(f"/v1/documents/{document}/pdf", headers=clerk.headers).content
    assert pdf.startswith(one_page_pdf) and hashlib.sha256(pdf).hexdigest() == signed.json()["sha256"]
    report = from_files.post("/v1/verify", files={"file": ("signed.pdf", pdf, "application/pdf")}).json()
    assert report["verdict"] == "valid" and [s["pades_level"] for s in report["signatures"]] == ["B-LTA"]
