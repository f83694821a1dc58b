"""Registration numbers: gap-free under concurrency, stamped as a revision that keeps every signature valid."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from documents import intake, numbering
from documents.records import Direction, Kind
from esign import ltv, phases
from esign.blobs import blob_store_from_settings
from esign.db import Database
from esign.identity import Actor, Scope
from esign.settings import Settings
from keys import ca
from tests.conftest import make_pdf, uploaded
from tests.validators import nss_db, pdfsig
from tests.world import PIN, World


def test_fifty_concurrent_registrations_get_one_to_fifty(world: World, db: Database, db_settings: Settings) -> None:
    org = world.orgs["A"]
    blobs = blob_store_from_settings(db_settings)
    system = Actor(
        organisation_id=org.id,
        official_id=None,
        system_name="OA",
        roles=frozenset(),
        scopes=frozenset({Scope.DOCUMENTS}),
    )
    ids = []
    with db.transaction() as session:
        for n in range(50):
            made = intake.from_upload(
                session,
                actor=system,
                blobs=blobs,
                upload=uploaded(make_pdf(text=f"doc {n}")),
                title=f"文 {n}",
                kind=Kind.NOTICE,
                direction=Direction.OUTGOING,
            )
            ids.append(made.id)
        from keys import authorities

        pki = authorities.load(session, db_settings)
    numbers: list[str] = []
    barrier = threading.Barrier(10)
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        barrier.wait()
        for document_id in chunk:
            document = phases.run(
                db,
                phases.Phases(
                    lambda session, document_id=document_id: numbering.prepare(  # type: ignore[misc]
                        session, actor=system, blobs=blobs, pki=pki, settings=db_settings, document_id=document_id
                    ),
                    lambda session, stamping: numbering.record(session, actor=system, blobs=blobs, stamping=stamping),
                ),
            )
            with lock:
                numbers.append(document.number or "")

    threads = [threading.Thread(target=worker, args=(ids[i::10],)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    serials = sorted(int(re.fullmatch(r"A府办〔\d{4}〕(\d+)号", n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert serials == list(range(1, 51))


def test_signed_numbered_signed_again_keeps_every_signature(
    api: TestClient, world: World, db_settings: Settings, tmp_path: Path
) -> None:
    org = world.orgs["A"]
    clerk, leader, custodian = org.members["clerk"], org.members["leader"], org.members["custodian"]
    document = api.post(
        "/v1/documents",
        headers=clerk.headers,
        data={"title": "待签", "direction": "outgoing"},
        files={"file": ("d.pdf", make_pdf(), "application/pdf")},
    ).json()["id"]
    response = api.post(
        f"/v1/documents/{document}/sign",
        headers=leader.headers,
        json={"credential_id": leader.credential_id, "pin": PIN, "reason": "签发"},
    )
    assert response.status_code == 200, response.text
    response = api.post(f"/v1/documents/{document}/register", headers=clerk.headers)
    assert response.status_code == 200, response.text
    number = response.json()["number"]
    assert re.fullmatch(r"A府办〔\d{4}〕1号", number)
    assert api.post(f"/v1/documents/{document}/register", headers=clerk.headers).status_code == 409
    response = api.post(
        f"/v1/documents/{document}/sign",
        headers=custodian.headers,
        json={"credential_id": custodian.seal_id, "pin": PIN, "visible": "1:380,80,520,220"},
    )
    assert response.status_code == 200 and response.json()["reason"] == "sealed"

    listed = api.get(f"/v1/documents/{document}/revisions", headers=clerk.headers).json()
    assert [r["reason"] for r in listed] == ["uploaded", "signed", "numbered", "sealed"]
    previous = b""
    import hashlib

    for revision in listed:
        data = api.get(f"/v1/documents/{document}/revisions/{revision['seq']}/pdf", headers=clerk.headers).content
        assert hashlib.sha256(data).hexdigest() == revision["sha256"] and len(data) == revision["size"]
        assert data.startswith(previous)
        previous = data

    final = tmp_path / "final.pdf"
    final.write_bytes(previous)
    found = pdfsig(final, nss_db(tmp_path / "nss", [ca.pem(world.pki.root.cert)]), ocsp=False)
    # poppler 22 lists document time-stamps but cannot check them ("Signature Type: unknown")
    results = [r for r in found if not r.field.startswith(ltv.ARCHIVE_TIMESTAMP_FIELD)]
    assert len(results) == 3 and all(r.signature_valid for r in results)
    assert len(found) == 6, "signature, number and seal are B-LTA by default: a document time-stamp each"
    text = __import__("subprocess").run(["pdftotext", str(final), "-"], capture_output=True, text=True).stdout
    assert number in text

    report = api.get(f"/v1/documents/{document}/verification", headers=clerk.headers).json()
    assert report["valid"] is True and len(report["signatures"]) == 3
    assert [s["modifications"]["allowed"] for s in report["signatures"]] == [True, True, True]


def test_only_clerks_register(api: TestClient, world: World) -> None:
    org = world.orgs["A"]
    document = api.post(
        "/v1/documents", headers=org.members["clerk"].headers, files={"file": ("d.pdf", make_pdf(), "application/pdf")}
    ).json()["id"]
    response = api.post(f"/v1/documents/{document}/register", headers=org.members["official"].headers)
    assert response.status_code == 403
