"""The PKI's online services as one process serves them: the time-stamping unit and the OCSP responder.

Both are built once per process from the stored PKI, so that answering a request reads nothing from the
database: a time-stamp never does, an OCSP answer only when ``keys.responder`` has no valid pre-produced
response for the certificate asked about.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from datetime import timedelta

from cryptography import x509

from esign.db import Database
from esign.ids import now
from esign.settings import Settings

from . import authorities, certificates, revocation_signal
from .authorities import Pki
from .errors import PkiNotInitialised
from .responder import OcspResponder, Pending
from .revocation import CertStatus
from .tsa import TimeStampingUnit


class PkiServices:
    def __init__(self, *, pki: Pki, settings: Settings, database: Database) -> None:
        self._database = database
        self._tsa = TimeStampingUnit(pki.tsa, pki.chain, policy=settings.tsa_policy)
        self._signal = revocation_signal.open_signal(database)
        self._ocsp = OcspResponder(
            issuer=pki.issuing.cert,
            responder=pki.ocsp,
            validity=timedelta(minutes=settings.ocsp_validity_minutes),
            signal=self._signal,
        )

    def timestamp(self, query: bytes) -> bytes:
        """RFC 3161 §2.4.2 TimeStampResp for the DER TimeStampReq ``query``.

        Serials are random 159-bit numbers, so that any number of processes issue unique ones without
        coordinating: among 10^12 tokens the chance of any two sharing one is below 10^-24.
        """
        return self._tsa.respond(query, now=now(), serial=x509.random_serial_number())

    async def ocsp(self, request: bytes) -> bytes:
        """RFC 6960 OCSPResponse for the DER OCSPRequest ``request``; a status read runs off the event loop."""
        answer = self._ocsp.answer(request, now=now())
        if not isinstance(answer, Pending):
            return answer
        status = await asyncio.to_thread(self._status, answer.serial)
        return self._ocsp.complete(answer, status, now=now())

    def _status(self, serial: int) -> CertStatus:
        with self._database.transaction() as session:
            return certificates.status(session, serial=serial)

    def revocation_epoch(self) -> int | None:
        """The revocation signal's epoch (``keys.revocation_signal``): what is kept under it stays true."""
        return self._signal.epoch()

    def close(self) -> None:
        self._signal.close()


class LazyPkiServices:
    """A process's ``PkiServices``, made at the first request that needs them: the service can start
    before ``esign init`` has created the PKI, and then answers ``PkiNotInitialised`` until it has."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._services: PkiServices | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> PkiServices | None:
        return self._services

    def open(self) -> PkiServices:
        """The services, built if need be (reads the database; raises ``PkiNotInitialised``)."""
        with self._lock:
            if self._services is None:
                with self._database.transaction() as session:
                    pki = authorities.load(session, self._settings)
                self._services = PkiServices(pki=pki, settings=self._settings, database=self._database)
                # An app dropped without its lifespan's end (a test's) must not keep a listener running.
                weakref.finalize(self, self._services.close)
            return self._services

    def revocation_epoch(self) -> int | None:
        """The epoch once the PKI exists; None before (nothing kept is trusted then)."""
        try:
            return self.open().revocation_epoch()
        except PkiNotInitialised:
            return None

    def close(self) -> None:
        with self._lock:
            if self._services is not None:
                self._services.close()
                self._services = None
