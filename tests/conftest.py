"""Database fixtures: PostgreSQL when ``ESIGN_TEST_DATABASE_URL`` is set (as in CI), else SQLite.

Each test session (each xdist worker) migrates its own throwaway schema or SQLite file, and the
function-scoped ``db`` fixture empties every table after each test.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import MetaData, text

import webhooks  # noqa: F401  (registers the outbox fan-out, as every entry point that serves or works does)
from esign.db import Database
from migrations import migrate

if TYPE_CHECKING:
    from tests.keys.softhsm import SoftHsm
    from tests.seaweedfs import ObjectStore

ALEMBIC_VERSION_TABLE = "alembic_version"


def _test_database_url() -> str | None:
    return os.environ.get("ESIGN_TEST_DATABASE_URL") or None


def _create_schema(url: str) -> str:
    schema = f"t_{secrets.token_hex(6)}"
    _admin(url, f"CREATE SCHEMA {schema}")
    return schema


def _drop_schema(url: str, schema: str) -> None:
    _admin(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _admin(url: str, statement: str) -> None:
    admin = Database(url)
    try:
        with admin.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text(statement))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Database]]:
    """A factory of empty, unmigrated databases, all removed at the end of the session."""
    url = _test_database_url()
    created: list[tuple[Database, str | None]] = []

    def make() -> Database:
        if url is None:
            path = tmp_path_factory.mktemp("db") / "esign.db"
            database = Database(f"sqlite:///{path}")
            created.append((database, None))
        else:
            schema = _create_schema(url)
            database = Database(url, schema=schema)
            created.append((database, schema))
        return database

    yield make
    for database, schema in created:
        database.dispose()
        if url is not None and schema is not None:
            _drop_schema(url, schema)


@pytest.fixture(scope="session")
def database(new_database: Callable[[], Database]) -> Database:
    """The session's migrated database."""
    db = new_database()
    migrate.upgrade(db)
    return db


@pytest.fixture(scope="session")
def _tables(database: Database) -> list[str]:
    """The migrated tables, dependents first; reflected so no model module can be forgotten."""
    metadata = MetaData()
    metadata.reflect(database.engine)
    return [table.name for table in reversed(metadata.sorted_tables) if table.name != ALEMBIC_VERSION_TABLE]


@pytest.fixture
def db(database: Database, _tables: list[str]) -> Iterator[Database]:
    yield database
    _empty(database, _tables)


def _empty(database: Database, tables: list[str]) -> None:
    if not tables:
        return
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            names = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))


def pytest_report_header() -> list[str]:
    url = _test_database_url()
    where = f"PostgreSQL {url}" if url else "SQLite (ESIGN_TEST_DATABASE_URL unset)"
    blobs = os.environ.get("ESIGN_TEST_BLOB_URL") or "SeaweedFS started on loopback (ESIGN_TEST_BLOB_URL unset)"
    return [f"esign test database: {where}", f"esign test object store: {blobs}"]


# --- signature engine fixtures ---------------------------------------------------------------

import io  # noqa: E402
from pathlib import Path  # noqa: E402

from reportlab.pdfgen import canvas  # noqa: E402

from documents import intake  # noqa: E402
from esign import signers  # noqa: E402
from esign.settings import Settings  # noqa: E402
from esign.signers import KeySigner  # noqa: E402
from esign.trust import TrustSettings  # noqa: E402
from tests.pki import TestPki  # noqa: E402
from tests.validators import nss_db  # noqa: E402


def uploaded(data: bytes, trust: TrustSettings | None = None) -> intake.Upload:
    """An upload examined as the API examines one before creating its document."""
    upload = intake.Upload(data=data, trust=trust or TrustSettings())
    upload.run()
    return upload


def make_pdf(pages: int = 1, text: str = "Hello, signed world", form_field: bool = False) -> bytes:
    """A small PDF with uncompressed page content (so tests can find and flip bytes in it)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    for n in range(pages):
        c.drawString(72, 760, f"{text} - page {n + 1}")
        if form_field and n == 0:
            c.acroForm.textfield(name="remark", x=72, y=600, width=300, height=24, value="")
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki.create()


@pytest.fixture(scope="session")
def ec_signer(pki: TestPki) -> KeySigner:
    issued = pki.signer("张三", kind="ec")
    return signers.from_pem(issued.key_pem(), issued.cert_pem(), [pki.chain_pem()])


@pytest.fixture(scope="session")
def rsa_signer(pki: TestPki) -> KeySigner:
    issued = pki.signer("李四", kind="rsa")
    return signers.from_pem(issued.key_pem(), issued.cert_pem(), [pki.chain_pem()])


@pytest.fixture(scope="session")
def trust(pki: TestPki) -> TrustSettings:
    return TrustSettings().with_anchors(pki.root.cert_pem())


@pytest.fixture(scope="session")
def root_pem_path(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "root.pem"
    path.write_bytes(pki.root.cert_pem())
    return path


@pytest.fixture(scope="session")
def nssdir(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nss_db(tmp_path_factory.mktemp("nss"), [pki.root.cert_pem()])


@pytest.fixture(scope="session")
def one_page_pdf() -> bytes:
    return make_pdf()


@pytest.fixture(scope="session")
def encrypted_pdf(one_page_pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(one_page_pdf)))
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- a served world: settings bound to the test database, and the identities built on it ---------


@pytest.fixture
def db_settings(db: Database, tmp_path: Path, root_pem_path: Path) -> Settings:
    from esign.settings import Settings

    return Settings(
        data_dir=tmp_path / "var",
        database_url=db.url.render_as_string(hide_password=False),
        database_schema=db.schema,
        ca_passphrase="test CA passphrase",
        public_url="http://127.0.0.1:9",
        max_upload_mb=2,
    )


@pytest.fixture
def world(db: Database, db_settings: Settings):  # type: ignore[no-untyped-def]
    from tests.world import build

    return build(db, db_settings)


# --- SoftHSM2: one configuration per test process, tokens made by the tests that need them ---------


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    from tests.keys import softhsm

    return softhsm.environment(tmp_path_factory.mktemp("softhsm"))


# --- a real S3 object store: SeaweedFS started for the session, or the one ESIGN_TEST_BLOB_URL names -------


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    from tests.seaweedfs import object_store

    with object_store(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store


@pytest.fixture
def s3(object_store: ObjectStore) -> ObjectStore:
    """The object store with this test's own key prefix: what one test writes, no other sees."""
    return object_store.under(f"test-{uuid.uuid4().hex}")
