"""Pre-produced OCSP answers in several processes against one database: a revocation reaches all of them.

Each ``PkiServices`` here has a database engine and a revocation signal of its own, as an API process has;
on SQLite the revocation shows at the next request, on PostgreSQL once the NOTIFY has been delivered.
"""

from __future__ import annotations

import asyncio
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


def test_a_revocation_in_one_process_is_answered_in_another(db: Database, db_settings: Settings) -> None:
    with db.transaction() as session:
        pki, _ = authorities.ensure(session, db_settings)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.registry.cert, pki.issuing.cert, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    other = _same_database(db)
    try:
        with _process(pki, db_settings, db) as first, _process(pki, db_settings, other) as second:
            for services in (first, second, first, second):
                assert _status(services, request) is ocsp.OCSPCertStatus.GOOD
            with db.transaction() as session:
                certificates.revoke(
                    session, serial=format(pki.registry.cert.serial_number, "x"), reason="keyCompromise", actor=None
                )
            if db.dialect == "sqlite":
                assert _status(second, request) is ocsp.OCSPCertStatus.REVOKED, "at the next request"
            else:
                _until(
                    lambda: _status(second, request) is ocsp.OCSPCertStatus.REVOKED,
                    "the other process kept answering good",
                )
            assert _status(first, request) is ocsp.OCSPCertStatus.REVOKED
    finally:
        other.dispose()


def test_a_rolled_back_revocation_changes_nothing(db: Database, db_settings: Settings) -> None:
    with db.transaction() as session:
        pki, _ = authorities.ensure(session, db_settings)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.registry.cert, pki.issuing.cert, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
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
