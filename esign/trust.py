"""What a verification trusts: anchors, helper certificates, whether it may go online, revocation policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder_data

from .errors import EsignError, TrustError

RevocationMode = Literal["soft-fail", "hard-fail", "require"]


def load_certificates(
    data: bytes, what: str = "trust anchor", error: type[EsignError] = TrustError
) -> list[asn1_x509.Certificate]:
    """Certificates from PEM (one or many) or DER bytes; ``error`` says what is wrong with them, in words a
    person can act on rather than the parser's ("tag should have been 16, but 3 was found")."""
    try:
        certs = list(load_certs_from_pemder_data(data))
        for cert in certs:
            # asn1crypto parses lazily: a DER key or CRL would pass for a certificate until something reads it.
            cert.native  # noqa: B018
    except (ValueError, TypeError) as e:
        raise error(
            f"the {what} is not an X.509 certificate in PEM or DER form "
            "(a PEM certificate starts with -----BEGIN CERTIFICATE-----)"
        ) from e
    if not certs:
        raise error(f"the {what} holds no certificate")
    return certs


@dataclass(frozen=True)
class TrustSettings:
    """Inputs of a verification besides the PDF.

    ``revocation_mode`` follows certvalidator's legacy modes: ``soft-fail`` checks revocation data that is
    at hand and tolerates its absence, ``hard-fail`` fails when a certificate names a source that cannot be
    consulted, ``require`` needs revocation data for every certificate (ETSI TS 119 172 "eithercheck").
    """

    anchors: tuple[asn1_x509.Certificate, ...] = ()
    other_certs: tuple[asn1_x509.Certificate, ...] = field(default=())
    allow_fetching: bool = False
    revocation_mode: RevocationMode = "soft-fail"
    crls: tuple[bytes, ...] = ()
    """DER CRLs known without fetching (a service knows its own CA's current CRL)."""
    ocsps: tuple[bytes, ...] = ()
    """DER OCSP responses known without fetching."""

    @classmethod
    def from_files(
        cls,
        paths: Iterable[Path],
        *,
        allow_fetching: bool = False,
        revocation_mode: RevocationMode = "soft-fail",
    ) -> TrustSettings:
        anchors: list[asn1_x509.Certificate] = []
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError as e:
                raise TrustError(f"cannot read trust anchor file {path}: {e.strerror}") from e
            anchors.extend(load_certificates(data, f"trust anchor file {path}"))
        return cls(anchors=tuple(anchors), allow_fetching=allow_fetching, revocation_mode=revocation_mode)

    def with_revocation_data(self, *, crls: tuple[bytes, ...] = (), ocsps: tuple[bytes, ...] = ()) -> TrustSettings:
        return replace(self, crls=(*self.crls, *crls), ocsps=(*self.ocsps, *ocsps))

    def with_anchors(self, *pem_or_der: bytes) -> TrustSettings:
        extra = [c for data in pem_or_der for c in load_certificates(data)]
        return replace(self, anchors=(*self.anchors, *extra))
