"""Pre-produced OCSP answers in several processes against one database: a revocation reaches all of them.

A ``PkiServices`` has a database engine and a revocation signal of its own, as an API process has. The
revoking process answers ``revoked`` at once; another one on SQLite at its next request, on PostgreSQL once
the NOTIFY has been delivered.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign.db import Database
from esign.settings import Settings
from keys import authorities, certificates, revocation_signal
from keys.authorities import Pki
from keys.services import PkiServices

DELIVERY_S = 10.0
"""How long a NOTIFY may take to arrive on a busy machine: a bound for the test, not a promise of speed."""


def _same_database(database: Database) -> Database:
    return Database(database.url.render_as_string(hide_password=False), schema=database.schema)


@contextmanager
def _process(pki: Pki, settings: Settings, database: Database) -> Iterator[PkiServices]:
    services = PkiServices(pki=pki, settings=settings, database=database)
    try:
        _until(lambda: services._signal.epoch() is not None, "the revocation signal never came up")
        yield services
    finally:
        services.close()


def _until(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + DELIVERY_S
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.01)


def _status(services: PkiServices, request: bytes) -> ocsp.OCSPCertStatus:
    return ocsp.load_der_ocsp_response(asyncio.run(services.ocsp(request))).certificate_status


_REVOKE = """
import sys
from esign.db import Database
from keys import certificates
url, schema, serial = sys.argv[1:]
database = Database(url, schema=schema or None)
with database.transaction() as session:
    certificates.revoke(session, serial=serial, reason="keyCompromise", actor=None)
database.dispose()
"""


def _revoke_in_another_process(database: Database, serial: int) -> None:
    url = database.url.render_as_string(hide_password=False)
    command = [sys.executable, "-c", _REVOKE, url, database.schema or "", format(serial, "x")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ)
    assert result.returncode == 0, result.stderr


def _ocsp_request(pki: Pki, algorithm: hashes.HashAlgorithm) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(pki.registry.cert, pki.issuing.cert, algorithm)
    return builder.build().public_bytes(serialization.Encoding.DER)


def test_a_revocation_in_another_process_is_answered_here(db: Database, db_settings: Settings) -> None:
    with db.transaction() as session:
        pki, _ = authorities.ensure(session, db_settings)
    request = _ocsp_request(pki, hashes.SHA1())
    with _process(pki, db_settings, db) as services:
        assert _status(services, request) is ocsp.OCSPCertStatus.GOOD
        assert _status(services, request) is ocsp.OCSPCertStatus.GOOD
        _revoke_in_another_process(db, pki.registry.cert.serial_number)
        if db.dialect == "sqlite":
            assert _status(services, request) is ocsp.OCSPCertStatus.REVOKED, "at the next request"
        else:
            _until(lambda: _status(services, request) is ocsp.OCSPCertStatus.REVOKED, "kept answering good")


def test_the_revoking_process_answers_revoked_at_once(db: Database, db_settings: Settings) -> None:
    """Also when this process has several engines on the database, as the API and its worker may."""
    with db.transaction() as session:
        pki, _ = authorities.ensure(session, db_settings)
    request = _ocsp_request(pki, hashes.SHA256())
    other = _same_database(db)
    try:
        with _process(pki, db_settings, db) as first, _process(pki, db_settings, other) as second:
            for services in (first, second, first, second):
                assert _status(services, request) is ocsp.OCSPCertStatus.GOOD
            with db.transaction() as session:
                certificates.revoke(
                    session, serial=format(pki.registry.cert.serial_number, "x"), reason="keyCompromise", actor=None
                )
            assert _status(first, request) is ocsp.OCSPCertStatus.REVOKED
            assert _status(second, request) is ocsp.OCSPCertStatus.REVOKED
    finally:
        other.dispose()


def test_a_rolled_back_revocation_changes_nothing(db: Database, db_settings: Settings) -> None:
    with db.transaction() as session:
        pki, _ = authorities.ensure(session, db_settings)
    request = _ocsp_request(pki, hashes.SHA256())
    with _process(pki, db_settings, db) as services:
        assert _status(services, request) is ocsp.OCSPCertStatus.GOOD
        with db.transaction() as session:
            certificates.revoke(
                session, serial=format(pki.registry.cert.serial_number, "x"), reason="superseded", actor=None
            )
            session.rollback()
        assert _status(services, request) is ocsp.OCSPCertStatus.GOOD


def test_a_signal_that_cannot_listen_trusts_nothing() -> None:
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:9/none")
    signal = revocation_signal.open_signal(unreachable)
    try:
        time.sleep(0.2)
        assert signal.epoch() is None
    finally:
        signal.close()
        unreachable.dispose()
    in_memory = Database("sqlite://")
    assert revocation_signal.open_signal(in_memory).epoch() is None
    in_memory.dispose()
