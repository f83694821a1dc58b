"""A throwaway PKI for tests and benchmarks: root → issuing CA → end-entity signers, made with `cryptography`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

KeyKind = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # RFC 9336
# NSS (and so poppler's pdfsig) rejects a signer whose EKU lacks emailProtection, documentSigning or not.


def new_key(kind: KeyKind) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _issue(
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issued | None,
    *,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
    eku: list[ObjectIdentifier] | None = None,
    eku_critical: bool = False,
    crl_url: str | None = None,
) -> Issued:
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return Issued(key=key, cert=builder.sign(signing_key, hashes.SHA256()))


@dataclass(frozen=True)
class TestPki:
    __test__ = False

    root: Issued
    issuing: Issued

    @classmethod
    def create(cls, name: str = "esign test", kind: KeyKind = "ec") -> TestPki:
        now = dt.datetime.now(dt.UTC)
        root_key = new_key(kind)
        root = _issue(
            _name(f"{name} root CA", name),
            root_key,
            None,
            ca=True,
            not_before=now - dt.timedelta(days=2),
            not_after=now + dt.timedelta(days=3650),
        )
        issuing = _issue(
            _name(f"{name} issuing CA", name),
            new_key(kind),
            root,
            ca=True,
            not_before=now - dt.timedelta(days=2),
            not_after=now + dt.timedelta(days=1825),
        )
        return cls(root=root, issuing=issuing)

    def signer(
        self,
        common_name: str = "张三",
        *,
        kind: KeyKind = "ec",
        org: str = "广东省测试厅",
        valid_days: int = 365,
        not_before: dt.datetime | None = None,
        crl_url: str | None = None,
    ) -> Issued:
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        return _issue(
            _name(common_name, org),
            new_key(kind),
            self.issuing,
            ca=False,
            not_before=start,
            not_after=start + dt.timedelta(days=valid_days),
            eku=[DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION],
            crl_url=crl_url,
        )

    def tsa(self, kind: KeyKind = "rsa") -> Issued:
        """A time-stamping unit (RFC 3161 §2.3: EKU id-kp-timeStamping only, critical)."""
        now = dt.datetime.now(dt.UTC)
        return _issue(
            _name("esign test TSA", "esign test"),
            new_key(kind),
            self.issuing,
            ca=False,
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=365),
            eku=[ExtendedKeyUsageOID.TIME_STAMPING],
            eku_critical=True,
        )

    def chain_pem(self) -> bytes:
        return self.issuing.cert_pem() + self.root.cert_pem()

    def write(self, folder: Path, signer: Issued, *, password: bytes = b"secret") -> dict[str, Path]:
        """Write key, certificate, chain, root and a PKCS#12 bundle; returns their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "key": folder / "signer.key.pem",
            "cert": folder / "signer.cert.pem",
            "chain": folder / "chain.pem",
            "root": folder / "root.pem",
            "p12": folder / "signer.p12",
        }
        files["key"].write_bytes(signer.key_pem())
        files["cert"].write_bytes(signer.cert_pem())
        files["chain"].write_bytes(self.issuing.cert_pem())
        files["root"].write_bytes(self.root.cert_pem())
        files["p12"].write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"signer",
                signer.key,
                signer.cert,
                [self.issuing.cert, self.root.cert],
                serialization.BestAvailableEncryption(password),
            )
        )
        return files
