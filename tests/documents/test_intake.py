"""Posting documents in: uploads checked and verified, idempotent retries, refusals that store nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.idempotent import once
from api.routes.documents import document_out
from api.schemas import DocumentOut
from documents import intake
from documents.records import Direction, Document, Kind, Revision
from esign import phases
from esign.db import Database
from esign.identity import Actor, Scope
from esign.settings import Settings
from esign.trust import TrustSettings
from tests.conftest import make_pdf
from tests.world import World


def _upload(api: TestClient, headers: dict[str, str], data: bytes, key: str | None = None, **form: str):
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return api.post("/v1/documents", headers=headers, files={"file": ("in.pdf", data, "application/pdf")}, data=form)


def _counts(db: Database, settings: Settings) -> tuple[int, int, int]:
    with db.transaction() as session:
        documents = session.scalar(select(func.count()).select_from(Document))
        revisions = session.scalar(select(func.count()).select_from(Revision))
    blobs = len([p for p in Path(settings.blob_dir).rglob("*") if p.is_file()]) if settings.blob_dir.exists() else 0
    return documents or 0, revisions or 0, blobs


def test_an_upload_is_stored_with_its_verification(api: TestClient, world: World, ec_signer, db: Database) -> None:
    from esign.sign import sign

    clerk = world.orgs["A"].members["clerk"]
    response = _upload(api, clerk.headers, sign(make_pdf(), ec_signer), title="来文", kind="letter")
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["title"] == "来文" and document["kind"] == "letter" and document["direction"] == "incoming"
    assert document["revisions"] == 1 and document["state"] == "received"
    [revision] = api.get(f"/v1/documents/{document['id']}/revisions", headers=clerk.headers).json()
    assert revision["reason"] == "uploaded" and revision["has_verification"]
    assert revision["detail"]["signatures"] == 1
    with db.transaction() as session:
        stored = session.scalar(select(Revision).where(Revision.document_id == document["id"]))
        assert stored.verification["signatures"][0]["intact"] is True


def test_a_retry_with_the_same_key_returns_the_same_document(
    api: TestClient, world: World, db: Database, db_settings: Settings
) -> None:
    clerk = world.orgs["A"].members["clerk"]
    data = make_pdf(text="idempotent")
    first = _upload(api, clerk.headers, data, key="intake-0001")
    assert first.status_code == 201
    before = _counts(db, db_settings)
    again = _upload(api, clerk.headers, data, key="intake-0001")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert _counts(db, db_settings) == before, "a replay creates nothing"

    other = _upload(api, clerk.headers, make_pdf(text="something else"), key="intake-0001")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert _counts(db, db_settings) == before

    elsewhere = _upload(api, world.orgs["B"].members["clerk"].headers, data, key="intake-0001")
    assert elsewhere.status_code == 201, "keys are per organisation"


def test_concurrent_posts_with_one_key_create_one_document(world: World, db: Database, db_settings: Settings) -> None:
    org = world.orgs["A"]
    actor = Actor(
        organisation_id=org.id,
        official_id=None,
        system_name="OA",
        roles=frozenset(),
        scopes=frozenset({Scope.DOCUMENTS}),
    )
    from esign.blobs import blob_store_from_settings

    blobs = blob_store_from_settings(db_settings)
    data = make_pdf(text="raced")
    made: list[str] = []
    barrier = threading.Barrier(6)

    def post() -> None:
        barrier.wait()
        answer = once(
            db,
            actor=actor,
            key="race-key",
            operation="document.create",
            request=data,
            authorise=lambda session: intake.authorise(actor),
            create=phases.Phases(
                lambda session: intake.Upload(data=data, trust=TrustSettings()),
                lambda session, upload: document_out(
                    intake.from_upload(
                        session,
                        actor=actor,
                        blobs=blobs,
                        upload=upload,
                        title="并发",
                        kind=Kind.NOTICE,
                        direction=Direction.INCOMING,
                    )
                ),
            ),
            model=DocumentOut,
        )
        made.append(json.loads(answer.body)["id"])

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 6 and len(set(made)) == 1
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 1


def test_bad_uploads_are_refused_and_nothing_is_stored(
    api: TestClient, world: World, db: Database, db_settings: Settings, encrypted_pdf: bytes
) -> None:
    clerk = world.orgs["A"].members["clerk"]
    before = _counts(db, db_settings)
    cases = (
        (b"this is no PDF", 422, "pdf_malformed"),
        (b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << /Root 5 0 R >>\n%%EOF", 422, "pdf_malformed"),
        (encrypted_pdf, 422, "pdf_encrypted"),
        (b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024), 413, "too_large"),
    )
    for data, status, code in cases:
        response = _upload(api, clerk.headers, data, key=f"bad-{code}-{len(data)}")
        assert response.status_code == status and response.json()["code"] == code, response.text
    assert _counts(db, db_settings) == before
    response = _upload(api, clerk.headers, make_pdf(), key="bad-pdf_malformed-14")
    assert response.status_code == 201, "a key a refused request used stays free"


def test_documents_of_another_organisation_are_not_found(api: TestClient, world: World) -> None:
    clerk_a, clerk_b = world.orgs["A"].members["clerk"], world.orgs["B"].members["clerk"]
    document = _upload(api, clerk_a.headers, make_pdf()).json()["id"]
    for path in (
        f"/v1/documents/{document}",
        f"/v1/documents/{document}/revisions",
        f"/v1/documents/{document}/pdf",
        f"/v1/documents/{document}/revisions/1/pdf",
    ):
        assert api.get(path, headers=clerk_b.headers).status_code == 404
        assert api.get(path, headers=clerk_a.headers).status_code == 200
    assert api.post(f"/v1/documents/{document}/register", headers=clerk_b.headers).status_code == 404
