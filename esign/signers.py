"""Key material loaded once into a pyhanko ``Signer``.

pyhanko's ``SimpleSigner`` keeps the key as DER and re-parses it for every raw signature (for RSA that
includes OpenSSL's key consistency check, ~30 ms), and ``sign_pdf`` signs twice when it has to size the
signature container. ``KeySigner`` holds the parsed ``cryptography`` key object for the lifetime of a
signing session instead, so a batch pays the parse once.

It also keeps the CMS structures that do not change between signatures in parsed (DER-backed) form
(``ReusedAttributes``, which any pyhanko signer can mix in, PKCS#11 ones included).
asn1crypto re-serialises freshly built objects at every nesting level each time they are dumped; the
signing-certificate-v2 attribute alone cost ~4 ms per signature that way, more than the rest of the
signature together.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeAlias

from asn1crypto import cms, core, parser, tsp
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from .errors import KeyMaterialError
from .trust import load_certificates

SigningKey: TypeAlias = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
)
_SIGNING_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class _FixedSigningCertificateV2(SigningCertificateV2Provider):
    """The ESS signing-certificate-v2 attribute (RFC 5035), built once per certificate."""

    def __init__(self, signing_cert: asn1_x509.Certificate) -> None:
        super().__init__(signing_cert)
        self._value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(signing_cert).dump())

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return self._value


class ReusedAttributes:
    """Mixin for any pyhanko ``Signer``: the constant CMS attributes kept in DER-backed form.

    Put it before the pyhanko class in the bases (``class X(ReusedAttributes, PKCS11Signer)``).
    """

    signing_cert: asn1_x509.Certificate | None
    _signing_certificate_v2: _FixedSigningCertificateV2 | None = None

    def _signed_attr_providers(self, *args: object, **kwargs: object) -> Iterable[CMSAttributeProvider]:
        for provider in super()._signed_attr_providers(*args, **kwargs):  # type: ignore[misc]
            if isinstance(provider, SigningCertificateV2Provider) and self.signing_cert is not None:
                if self._signing_certificate_v2 is None:
                    self._signing_certificate_v2 = _FixedSigningCertificateV2(self.signing_cert)
                yield self._signing_certificate_v2
            else:
                yield provider

    async def signed_attrs(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        attr_settings: PdfCMSSignedAttributes | None = None,
        content_type: str = "data",
        use_pades: bool = False,
        timestamper: object = None,
        dry_run: bool = False,
        is_pdf_sig: bool = True,
    ) -> cms.CMSAttributes:
        """pyhanko's ``Signer.signed_attrs`` (``format_signed_attributes``): the same attributes from the same
        providers, but encoded from each value's own DER, in DER-backed form.

        pyhanko builds an asn1crypto object for every attribute, then a SET OF of them, and ``dump()`` then
        re-checks every parsed node of the values (a content time-stamp token is a whole SignedData) for
        changes at each level. DER sorts the members of a SET OF by their encodings (X.690 §11.6), as
        asn1crypto does, and the values of each attribute likewise.
        """
        providers = list(
            self._signed_attr_providers(
                data_digest=data_digest,
                digest_algorithm=digest_algorithm,
                use_cades=use_pades,
                attr_settings=attr_settings or PdfCMSSignedAttributes(),
                timestamper=timestamper,
                is_pdf_sig=is_pdf_sig,
            )
        )
        built = await asyncio.gather(*(provider.build_attr_value(dry_run=dry_run) for provider in providers))
        values: dict[bytes, list[bytes]] = {
            _attribute_type("content_type"): [_value("content_type", content_type)],
            _attribute_type("message_digest"): [_octet_string(data_digest)],
        }
        for provider, value in zip(providers, built, strict=True):
            if value is not None:
                kind = provider.attribute_type
                values.setdefault(_attribute_type(kind), []).append(_value(kind, value))
        members = sorted(
            parser.emit(0, 1, 16, kind + parser.emit(0, 1, 17, b"".join(sorted(encoded))))
            for kind, encoded in values.items()
        )
        return cms.CMSAttributes.load(parser.emit(0, 1, 17, b"".join(members)))


@functools.lru_cache(maxsize=32)
def _attribute_type(kind: str) -> bytes:
    return bytes(cms.CMSAttributeType(kind).dump())


def _value(kind: str, value: object) -> bytes:
    """The DER of one attribute value: its own when it is an asn1crypto value, else as pyhanko would coerce it."""
    if isinstance(value, core.Asn1Value):
        return bytes(value.dump())
    return bytes(simple_cms_attribute(kind, value)["values"][0].dump())


def _octet_string(data: bytes) -> bytes:
    return bytes(parser.emit(0, 0, 4, data))


class KeySigner(ReusedAttributes, Signer):
    """A pyhanko signer over an in-memory, already parsed private key."""

    def __init__(
        self,
        key: SigningKey,
        cert: asn1_x509.Certificate,
        chain: Iterable[asn1_x509.Certificate] = (),
        *,
        prefer_pss: bool = False,
    ) -> None:
        if not isinstance(key, _SIGNING_KEY_TYPES):
            raise KeyMaterialError(f"unsupported key type {type(key).__name__}")
        if (
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            != cert.public_key.dump()
        ):
            raise KeyMaterialError("the private key does not belong to the certificate")
        registry = SimpleCertificateStore()
        registry.register_multiple(list(chain))
        super().__init__(prefer_pss=prefer_pss, signing_cert=cert, cert_registry=registry)
        self._key = key

    @property
    def key(self) -> SigningKey:
        return self._key

    @property
    def chain(self) -> list[asn1_x509.Certificate]:
        return list(self.cert_registry)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism.signature_algo
        key = self._key
        if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algo == "rsassa_pss" and isinstance(key, rsa.RSAPrivateKey):
            pss, hash_algo = process_pss_params(mechanism["parameters"])
            return key.sign(data, pss, hash_algo)
        if algo == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if algo in ("ed25519", "ed448") and isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
            return key.sign(data)
        raise PyhankoSigningError(f"signature mechanism {algo} does not fit a {type(key).__name__}")


def from_pem(
    key_data: bytes,
    cert_data: bytes,
    chain_data: Sequence[bytes] = (),
    *,
    password: bytes | None = None,
) -> KeySigner:
    """A signer from a PEM or DER private key, its certificate and any chain certificates."""
    try:
        if b"-----BEGIN" in key_data:
            key = serialization.load_pem_private_key(key_data, password=password)
        else:
            key = serialization.load_der_private_key(key_data, password=password)
    except TypeError as e:
        raise KeyMaterialError(f"private key: {e}") from e
    except ValueError as e:
        raise KeyMaterialError(f"cannot read the private key (wrong password or not a key): {e}") from e
    cert, *extra = load_certificates(cert_data, "certificate file", KeyMaterialError)
    chain = [c for data in chain_data for c in load_certificates(data, "chain file", KeyMaterialError)]
    return KeySigner(key, cert, [*extra, *chain])  # type: ignore[arg-type]


def from_pkcs12(data: bytes, password: bytes | None) -> KeySigner:
    """A signer from a PKCS#12 bundle; a wrong password is told apart from a damaged file."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError as e:
        try:
            _ = asn1_pkcs12.Pfx.load(data).native
        except ValueError:
            raise KeyMaterialError("not a PKCS#12 file") from e
        raise KeyMaterialError("wrong password for the PKCS#12 file") from e
    if key is None or cert is None:
        raise KeyMaterialError("the PKCS#12 file holds no private key with its certificate")
    return KeySigner(key, to_asn1(cert), [to_asn1(c) for c in extra])  # type: ignore[arg-type]


def from_files(
    *,
    key: Path | None = None,
    cert: Path | None = None,
    chain: Sequence[Path] = (),
    p12: Path | None = None,
    password: bytes | None = None,
) -> KeySigner:
    """Load either a PKCS#12 bundle or a key + certificate pair from files."""
    try:
        if p12 is not None:
            return from_pkcs12(p12.read_bytes(), password)
        if key is None or cert is None:
            raise KeyMaterialError("give a PKCS#12 file, or both a key and a certificate")
        return from_pem(key.read_bytes(), cert.read_bytes(), [c.read_bytes() for c in chain], password=password)
    except OSError as e:
        raise KeyMaterialError(f"cannot read {e.filename}: {e.strerror}") from e
