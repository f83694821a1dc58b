"""Moving a deployment's revisions into the object store, then backing it up and restoring it (README,
"Production topology"): ``esign blobs migrate`` of 1,002 revisions, every one checked, and a database dump
restored next to the same object store serving documents that verify.

The revisions: one document uploaded and signed through the API, and 1,000 more written the quick way, as
100 documents of 10 revisions each, every revision extending the previous one by a line, each blob put
into the folder store with its row inserted in one transaction. The restore is ``pg_dump``/``pg_restore``
of the test schema into a new database on PostgreSQL, a copy of the database file (SQLite's backup API) on
SQLite; a new ``esign serve`` with a data directory of its own serves it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import make_url, select, text

from api.app import create_app
from documents.records import Document, Reason, Revision
from esign.blobs import FilesystemBlobStore
from esign.db import Database
from esign.ids import new_id
from esign.settings import Settings
from tests.api.cli import esign
from tests.api.topology import api_process, headers
from tests.conftest import make_pdf
from tests.seaweedfs import ObjectStore
from tests.world import PIN, World

DOCUMENTS, REVISIONS_EACH = 100, 10


def _bulk_revisions(database: Database, blobs: FilesystemBlobStore, organisation_id: str) -> tuple[str, bytes]:
    """DOCUMENTS x REVISIONS_EACH revisions: blobs in the folder, rows in one transaction; the last document's id
    and its latest PDF."""
    with database.transaction() as session:
        for n in range(DOCUMENTS):
            data = make_pdf(text=f"bulk document {n}")
            document = Document(
                id=new_id(),
                organisation_id=organisation_id,
                kind="letter",
                direction="incoming",
                title=f"批量来文 {n}",
                revision_count=REVISIONS_EACH,
                created_by="test:bulk",
            )
            session.add(document)
            parent = None
            for seq in range(1, REVISIONS_EACH + 1):
                data += f"% revision {seq}\n".encode()
                revision = Revision(
                    id=new_id(),
                    document_id=document.id,
                    organisation_id=organisation_id,
                    seq=seq,
                    parent_id=parent,
                    sha256=blobs.put(data),
                    size=len(data),
                    reason=Reason.UPLOADED.value,
                    created_by="test:bulk",
                )
                session.add(revision)
                session.flush()
                parent = revision.id
    return document.id, data


def _signed_document(api: TestClient, world: World) -> str:
    clerk, signer = world.orgs["A"].members["clerk"], world.orgs["A"].members["official"]
    created = api.post(
        "/v1/documents",
        headers=clerk.headers,
        files={"file": ("in.pdf", make_pdf(text="to be restored"), "application/pdf")},
        data={"title": "关于备份与恢复的通知", "kind": "letter"},
    )
    assert created.status_code == 201, created.text
    document = str(created.json()["id"])
    body = {"credential_id": signer.credential_id, "pin": PIN, "level": "B-T"}
    signed = api.post(f"/v1/documents/{document}/sign", headers=signer.headers, json=body)
    assert signed.status_code == 200, signed.text
    return document


def _digests(database: Database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(Revision.sha256)))


def _s3_env(settings: Settings, s3: ObjectStore) -> dict[str, str]:
    return {
        "ESIGN_DATA_DIR": str(settings.data_dir),
        "ESIGN_BLOB_URL": s3.url,
        "ESIGN_S3_ACCESS_KEY_ID": s3.access_key_id or "",
        "ESIGN_S3_SECRET_ACCESS_KEY": s3.secret_access_key or "",
    }


@contextmanager
def _restored(database: Database, dumps: Path) -> Iterator[dict[str, str]]:
    """The database dumped now and restored elsewhere: the settings that name the copy."""
    if database.dialect == "sqlite":
        copy = dumps / "restored.db"
        with closing(sqlite3.connect(str(database.url.database))) as live, closing(sqlite3.connect(copy)) as kept:
            live.backup(kept)
        yield {"ESIGN_DATABASE_URL": f"sqlite:///{copy}"}
        return
    libpq = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = dumps / "esign.dump"
    subprocess.run(["pg_dump", "-Fc", "-n", str(database.schema), "-f", str(dump), libpq], check=True)
    name = f"restore_{uuid.uuid4().hex[:12]}"
    _admin(database, f"CREATE DATABASE {name}")
    try:
        into = make_url(libpq).set(database=name).render_as_string(hide_password=False)
        subprocess.run(["pg_restore", "--no-owner", "-d", into, str(dump)], check=True)
        restored = database.url.set(database=name).render_as_string(hide_password=False)
        yield {"ESIGN_DATABASE_URL": restored, "ESIGN_DATABASE_SCHEMA": str(database.schema)}
    finally:
        _admin(database, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _admin(database: Database, statement: str) -> None:
    with database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text(statement))


def test_migrate_a_thousand_revisions_then_restore_a_dump_next_to_the_object_store(
    world: World, db: Database, db_settings: Settings, s3: ObjectStore, tmp_path: Path
) -> None:
    folder = FilesystemBlobStore(db_settings.blob_dir)
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as api:
        document = _signed_document(api, world)
    bulk, bulk_pdf = _bulk_revisions(db, folder, world.orgs["A"].id)
    digests = set(_digests(db))
    assert len(digests) == DOCUMENTS * REVISIONS_EACH + 2
    env = _s3_env(db_settings, s3)

    migrated = esign("blobs", "migrate", env=env)
    checked = esign("blobs", "check", "--all", env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert f"{len(digests)} blob(s) copied, 0 already there" in migrated.stdout
    assert checked.returncode == 0, checked.stderr
    assert f"{len(digests)} blob(s) intact" in checked.stdout
    assert set(s3.store().digests()) == digests, "every revision row has its object, and nothing else is there"

    s3_settings = db_settings.model_copy(update=s3.settings)
    signer = world.orgs["A"].members["official"]
    with TestClient(create_app(s3_settings), raise_server_exceptions=False) as live:
        latest = live.get(f"/v1/documents/{document}/pdf", headers=signer.headers)
        assert latest.status_code == 200, latest.text
        # The order of a backup: the database first, then the objects (here: the store keeps them).
        with _restored(db, tmp_path) as restored:
            body = {"credential_id": signer.credential_id, "pin": PIN, "level": "B-T"}
            after_dump = live.post(f"/v1/documents/{document}/sign", headers=signer.headers, json=body)
            assert after_dump.status_code == 200, after_dump.text
            env = {**env, **restored, "ESIGN_CA_PASSPHRASE": "test CA passphrase", "ESIGN_PUBLIC_URL": "http://h:9"}
            with api_process(env, tmp_path / "restored") as url:
                served = httpx.get(f"{url}/v1/documents/{document}/pdf", headers=headers(signer.token), timeout=60)
                report = httpx.post(
                    f"{url}/v1/verify", files={"file": ("r.pdf", served.content, "application/pdf")}, timeout=60
                )
                last = httpx.get(f"{url}/v1/documents/{bulk}/pdf", headers=headers(signer.token), timeout=60)

    assert served.status_code == 200, served.text
    assert served.content == latest.content, "the revision the dump knew as the latest, not the one after it"
    assert report.status_code == 200 and report.json()["verdict"] == "valid", report.text
    assert last.status_code == 200 and last.content == bulk_pdf, last.text
    assert s3.store().exists(after_dump.json()["sha256"]), "the object written after the dump is there, unused"
