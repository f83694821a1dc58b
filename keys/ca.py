"""Certificate profiles and issuance for the deployment's own CA (RFC 5280).

A root CA signs one issuing CA; the issuing CA signs everything else: officials' signing certificates,
organisations' seal certificates, the time-stamping unit and the OCSP responder. Every certificate the
issuing CA signs points back at this service: AIA with the OCSP responder and the issuer's certificate,
and a CRL distribution point, all under ``ESIGN_PUBLIC_URL``. The issuing CA's certificate and every one it
signs name the certificate policy they are issued under, with the practice statement's URI as its CPS
qualifier (RFC 5280 §4.2.1.4): the CA asserts the policy too, or a relying party that requires it finds no
valid policy on the path (RFC 5280 §6.1.3 (d)).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .errors import TokenDeviceError

KeyKind = Literal["ec", "rsa"]
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning, RFC 9336."""

ORGANIZATION_IDENTIFIER = ObjectIdentifier("2.5.4.97")
"""X.520 organizationIdentifier, carrying the unified social credit code of a seal's organisation."""


def generate_key(kind: KeyKind = "ec") -> PrivateKey:
    """ECDSA P-256 by default; RSA-3072 on request."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


class Profile(enum.StrEnum):
    ROOT_CA = "root_ca"
    ISSUING_CA = "issuing_ca"
    SIGNATURE = "signature"
    SEAL = "seal"
    TSA = "tsa"
    OCSP = "ocsp"


VALIDITY = {
    Profile.ROOT_CA: dt.timedelta(days=20 * 365),
    Profile.ISSUING_CA: dt.timedelta(days=10 * 365),
    Profile.SIGNATURE: dt.timedelta(days=2 * 365),
    Profile.SEAL: dt.timedelta(days=3 * 365),
    Profile.TSA: dt.timedelta(days=5 * 365),
    Profile.OCSP: dt.timedelta(days=365),
}


@dataclass(frozen=True)
class PkiUrls:
    """Where relying parties find this PKI's certificates, CRLs, OCSP responder and practice statement, and the
    policy its certificates are issued under (``policy`` None: no certificatePolicies extension)."""

    base: str
    policy: str | None = None
    cps_url: str | None = None

    def _at(self, path: str) -> str:
        return self.base.rstrip("/") + path

    @property
    def ocsp(self) -> str:
        return self._at("/pki/ocsp")

    @property
    def crl(self) -> str:
        return self._at("/pki/crl")

    @property
    def root_crl(self) -> str:
        return self._at("/pki/crl/root")

    @property
    def issuing_cert(self) -> str:
        return self._at("/pki/ca/issuing.der")

    @property
    def root_cert(self) -> str:
        return self._at("/pki/ca/root.der")

    @property
    def cps(self) -> str:
        return self.cps_url or self._at("/pki/cps")


class HeldKey(Protocol):
    """A CA key that never enters this process (one in a PKCS#11 token, ``keys.ca_token``): it tells its public
    half and signs a SHA-256 digest, with ECDSA (a DER ``Ecdsa-Sig-Value``) or RSASSA-PKCS1-v1_5 as its public
    half's kind says."""

    def public_key(self) -> PublicKey: ...

    def sign_sha256(self, digest: bytes) -> bytes: ...


CaKey: TypeAlias = PrivateKey | HeldKey


@dataclass(frozen=True)
class CertificationAuthority:
    """A CA that can sign certificates and CRLs: its certificate and its key, in this process or held."""

    cert: x509.Certificate
    key: CaKey


@dataclass(frozen=True)
class Authority(CertificationAuthority):
    """A CA or a service of the PKI (responder, time-stamping unit) whose private key is in this process."""

    key: PrivateKey


def person_name(name: str, *, organisation: str, department: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ]
    if department:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, department))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
    return x509.Name(attributes)


def organisation_name(name: str, *, uscc: str) -> x509.Name:
    """The subject of a seal certificate: the organisation itself, identified by its unified code."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(ORGANIZATION_IDENTIFIER, uscc),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


def service_name(common_name: str, *, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, signing: bool = False, ca: bool = False, non_repudiation: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _distribution_point(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)])


def _aia(*, ocsp: str | None, ca_issuers: str) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp:
        descriptions.append(
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp))
        )
    descriptions.append(
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers))
    )
    return x509.AuthorityInformationAccess(descriptions)


def _policies(urls: PkiUrls) -> list[tuple[x509.ExtensionType, bool]]:
    if urls.policy is None:
        return []
    policy = x509.PolicyInformation(ObjectIdentifier(urls.policy), [urls.cps])
    return [(x509.CertificatePolicies([policy]), False)]


def _extensions(profile: Profile, urls: PkiUrls) -> list[tuple[x509.ExtensionType, bool]]:
    """The profile's extensions besides the key identifiers."""
    if profile is Profile.ROOT_CA:
        return [(x509.BasicConstraints(ca=True, path_length=None), True), (_key_usage(ca=True), True)]
    return [*_profile_extensions(profile, urls), *_policies(urls)]


def _profile_extensions(profile: Profile, urls: PkiUrls) -> list[tuple[x509.ExtensionType, bool]]:
    if profile is Profile.ISSUING_CA:
        return [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(ca=True), True),
            (_distribution_point(urls.root_crl), False),
            (_aia(ocsp=None, ca_issuers=urls.root_cert), False),
        ]
    leaf: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_distribution_point(urls.crl), False),
    ]
    if profile in (Profile.SIGNATURE, Profile.SEAL):
        # emailProtection beside documentSigning: NSS (poppler, Firefox, Thunderbird) refuses a document
        # signer whose EKU extension lacks it.
        return [
            *leaf,
            (_key_usage(signing=True, non_repudiation=True), True),
            (x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), False),
            (_aia(ocsp=urls.ocsp, ca_issuers=urls.issuing_cert), False),
        ]
    if profile is Profile.TSA:
        # RFC 3161 §2.3: the TSA certificate has exactly one EKU, id-kp-timeStamping, marked critical.
        return [
            *leaf,
            (_key_usage(signing=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
            (_aia(ocsp=urls.ocsp, ca_issuers=urls.issuing_cert), False),
        ]
    # OCSP responder, RFC 6960 §4.2.2.2: delegated by the issuing CA; id-pkix-ocsp-nocheck so clients
    # do not ask the responder about its own certificate.
    return [
        *leaf,
        (_key_usage(signing=True), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
        (x509.OCSPNoCheck(), False),
        (_aia(ocsp=None, ca_issuers=urls.issuing_cert), False),
    ]


def issue(
    issuer: CertificationAuthority | None,
    *,
    profile: Profile,
    subject: x509.Name,
    public_key: PublicKey,
    urls: PkiUrls,
    not_before: dt.datetime | None = None,
    validity: dt.timedelta | None = None,
    self_signing_key: CaKey | None = None,
) -> x509.Certificate:
    """A certificate of ``profile`` for ``public_key``; ``issuer`` None makes a self-signed root."""
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    end = start + (validity or VALIDITY[profile])
    if issuer is None:
        if self_signing_key is None:
            raise ValueError("a self-signed root needs its own key")
        signing_key, issuer_name, issuer_public = self_signing_key, subject, public_key
    else:
        end = min(end, issuer.cert.not_valid_after_utc)
        signing_key, issuer_name, issuer_public = issuer.key, issuer.cert.subject, issuer.key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False)
    )
    for extension, critical in _extensions(profile, urls):
        builder = builder.add_extension(extension, critical=critical)
    return x509.load_der_x509_certificate(signed(builder, signing_key))


def signed(builder: x509.CertificateBuilder | x509.CertificateRevocationListBuilder, key: CaKey) -> bytes:
    """The certificate or CRL of ``builder`` signed with ``key`` with SHA-256, in DER.

    cryptography's builders sign with its own key objects only, so for a held key the builder signs with a
    stand-in key of the same kind, which fixes the to-be-signed structure (the signature algorithm inside it
    included), and the held key signs that structure's digest in place of the stand-in's signature (RFC 5280
    §4.1.1.3, §5.1.1.3: the signature is over the DER of tbsCertificate or tbsCertList). The result is checked
    against the held key's public half, so a token answering with another key's signature fails here.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return der(builder.sign(key, hashes.SHA256()))
    public = key.public_key()
    draft = der(builder.sign(_stand_in(isinstance(public, rsa.RSAPublicKey)), hashes.SHA256()))
    structure: asn1_x509.Certificate | asn1_crl.CertificateList = (
        asn1_x509.Certificate.load(draft)
        if isinstance(builder, x509.CertificateBuilder)
        else asn1_crl.CertificateList.load(draft)
    )
    tbs_field, signature_field = _SIGNED_FIELDS[type(structure)]
    tbs = structure[tbs_field].dump()
    signature = key.sign_sha256(hashlib.sha256(tbs).digest())
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, tbs, padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(signature, tbs, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TokenDeviceError("the CA key answered with a signature that its public key does not verify") from None
    fields = {tbs_field: structure[tbs_field], "signature_algorithm": structure["signature_algorithm"]}
    return bytes(type(structure)({**fields, signature_field: signature}).dump())


_SIGNED_FIELDS: dict[type, tuple[str, str]] = {
    asn1_x509.Certificate: ("tbs_certificate", "signature_value"),
    asn1_crl.CertificateList: ("tbs_cert_list", "signature"),
}
"""Where the signed structure and its signature sit in a certificate and a CRL (RFC 5280 §4.1, §5.1)."""


@functools.cache
def _stand_in(rsa_kind: bool) -> PrivateKey:
    """A key whose only use is to let cryptography's builder encode a structure for a held key to sign."""
    if rsa_kind:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def new_root(
    common_name: str, *, organisation: str, urls: PkiUrls, kind: KeyKind = "ec", key: CaKey | None = None
) -> CertificationAuthority:
    """A self-signed root CA, with a new software key of ``kind`` unless given a ``key`` (a held one)."""
    key = key if key is not None else generate_key(kind)
    subject = service_name(common_name, organisation=organisation)
    cert = issue(
        None, profile=Profile.ROOT_CA, subject=subject, public_key=key.public_key(), urls=urls, self_signing_key=key
    )
    return CertificationAuthority(cert=cert, key=key)


def new_issuing(
    root: CertificationAuthority, *, common_name: str, organisation: str, urls: PkiUrls, key: CaKey
) -> CertificationAuthority:
    """The issuing CA under ``root`` for ``key`` (generated in this process, or held)."""
    subject = service_name(common_name, organisation=organisation)
    cert = issue(root, profile=Profile.ISSUING_CA, subject=subject, public_key=key.public_key(), urls=urls)
    return CertificationAuthority(cert=cert, key=key)


def new_subordinate(
    issuer: CertificationAuthority,
    *,
    profile: Profile,
    common_name: str,
    organisation: str,
    urls: PkiUrls,
    kind: KeyKind = "ec",
) -> Authority:
    """A software key and its certificate for a service of the PKI itself: the TSA, the OCSP responder, the
    registry (or, in tests, an issuing CA)."""
    key = generate_key(kind)
    subject = service_name(common_name, organisation=organisation)
    return Authority(
        cert=issue(issuer, profile=profile, subject=subject, public_key=key.public_key(), urls=urls), key=key
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(signed_object: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return signed_object.public_bytes(serialization.Encoding.DER)
