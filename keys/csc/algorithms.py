"""The signature algorithms of ``signatures/signHash``: what ``signAlgo``, ``signAlgoParams`` and ``hashAlgo``
name (CSC API v1.0.4.0 §5.3 / v2.0.0.2 §5: OIDs in dotted notation), and whether a key can sign with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..errors import KeysError
from ..signing_process import DigestSigning, HashName, Scheme
from .refusals import CscRefused, Refusal

SHA256, SHA384, SHA512 = "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.2", "2.16.840.1.101.3.4.2.3"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
SHA384_WITH_RSA = "1.2.840.113549.1.1.12"
SHA512_WITH_RSA = "1.2.840.113549.1.1.13"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3"
ECDSA_WITH_SHA512 = "1.2.840.10045.4.3.4"
_CURVES = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34", "secp521r1": "1.3.132.0.35"}

_HASHES: dict[str, HashName] = {SHA256: "sha256", SHA384: "sha384", SHA512: "sha512"}
DIGEST_SIZES: dict[HashName, int] = {"sha256": 32, "sha384": 48, "sha512": 64}

KeyType = Literal["rsa", "ec"]
# signAlgo → (key type, scheme, the hash it implies or None when hashAlgo / signAlgoParams name it)
_SIGN_ALGOS: dict[str, tuple[KeyType, Scheme, HashName | None]] = {
    SHA256_WITH_RSA: ("rsa", "pkcs1v15", "sha256"),
    SHA384_WITH_RSA: ("rsa", "pkcs1v15", "sha384"),
    SHA512_WITH_RSA: ("rsa", "pkcs1v15", "sha512"),
    RSASSA_PSS: ("rsa", "pss", None),
    RSA_ENCRYPTION: ("rsa", "pkcs1v15", None),
    ECDSA_WITH_SHA256: ("ec", "ecdsa", "sha256"),
    ECDSA_WITH_SHA384: ("ec", "ecdsa", "sha384"),
    ECDSA_WITH_SHA512: ("ec", "ecdsa", "sha512"),
}
KEY_ALGOS: dict[KeyType, tuple[str, ...]] = {
    "rsa": (SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA, RSASSA_PSS, RSA_ENCRYPTION),
    "ec": (ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512),
}
"""``key/algo`` of a credential by its key type (§11.5): what ``signAlgo`` may name for it."""


@dataclass(frozen=True)
class SignatureAlgorithm:
    """What ``signAlgo``, ``signAlgoParams`` and ``hashAlgo`` ask for, checked (v1.0.4.0 §11.9)."""

    oid: str
    key_type: KeyType
    scheme: Scheme
    hash: HashName
    salt_length: int | None = None
    """RSASSA-PSS only; its MGF1 uses ``hash`` too (the only combination accepted)."""

    @property
    def digest_size(self) -> int:
        return DIGEST_SIZES[self.hash]

    @property
    def signing(self) -> DigestSigning:
        return DigestSigning(scheme=self.scheme, hash=self.hash, salt_length=self.salt_length)


def hash_named(oid: str | None) -> HashName | None:
    """The hash a ``hashAlgo`` OID names, None when absent; ``INVALID_HASH_ALGO`` for one not offered."""
    if oid is None:
        return None
    if oid not in _HASHES:
        raise CscRefused(
            Refusal.INVALID_HASH_ALGO, f"unsupported hash algorithm {oid}: use SHA-256, SHA-384 or SHA-512"
        )
    return _HASHES[oid]


def _pss(params: bytes | None) -> tuple[HashName, int]:
    """RFC 8017 §A.2.3 RSASSA-PSS-params; the MGF must be MGF1 over the same hash, the trailer field 1."""
    if params is None:
        raise CscRefused(Refusal.MISSING_SIGN_ALGO_PARAMS, "RSASSA-PSS needs signAlgoParams")
    try:
        parsed = algos.RSASSAPSSParams.load(params)
        hash_oid = parsed["hash_algorithm"]["algorithm"].dotted
        mgf = parsed["mask_gen_algorithm"]
        mgf_hash = mgf["parameters"]["algorithm"].dotted
        salt, trailer = parsed["salt_length"].native, parsed["trailer_field"].native
        mgf_name = mgf["algorithm"].native
    except (ValueError, TypeError, KeyError):
        raise CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "signAlgoParams is not DER RSASSA-PSS-params") from None
    if hash_oid not in _HASHES or mgf_name != "mgf1" or mgf_hash != hash_oid or trailer not in (1, "trailer_field_bc"):
        raise CscRefused(
            Refusal.INVALID_SIGN_ALGO_PARAMS, "RSASSA-PSS needs SHA-256/384/512 with MGF1 over the same hash"
        )
    if not isinstance(salt, int) or salt < 0:
        raise CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "invalid PSS salt length")
    return _HASHES[hash_oid], salt


def resolve_algorithm(
    sign_algo: str, *, params: bytes | None = None, hash_algo: str | None = None
) -> SignatureAlgorithm:
    """The algorithm a ``signHash`` request names. ``hashAlgo`` is needed only when ``signAlgo`` does not
    imply a hash (plain rsaEncryption); when given, it must agree with ``signAlgo`` and its parameters."""
    if sign_algo not in _SIGN_ALGOS:
        raise CscRefused(Refusal.INVALID_SIGN_ALGO, f"unsupported signature algorithm {sign_algo}")
    key_type, scheme, implied = _SIGN_ALGOS[sign_algo]
    named = hash_named(hash_algo)
    salt = None
    if scheme == "pss":
        implied, salt = _pss(params)
    if implied is None:
        if named is None:
            raise CscRefused(Refusal.MISSING_HASH_ALGO, f"signAlgo {sign_algo} needs hashAlgo")
        implied = named
    if named is not None and named != implied:
        raise CscRefused(Refusal.INVALID_HASH_ALGO, f"hashAlgo {hash_algo} contradicts signAlgo {sign_algo}")
    return SignatureAlgorithm(oid=sign_algo, key_type=key_type, scheme=scheme, hash=implied, salt_length=salt)


def key_type(cert: x509.Certificate) -> tuple[KeyType, int, str | None]:
    """The certified key's type, size in bits and, for EC, its curve's OID."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, _CURVES.get(key.curve.name)
    raise KeysError(f"unsupported key in certificate {cert.serial_number:x}")


def _max_pss_salt(key_bits: int, algorithm: SignatureAlgorithm) -> int:
    """RFC 8017 §9.1.1: emLen ≥ hLen + sLen + 2, with emLen = ⌈(modBits − 1)/8⌉."""
    return (key_bits - 1 + 7) // 8 - algorithm.digest_size - 2


def check_fits(algorithm: SignatureAlgorithm, key_type: KeyType, key_bits: int) -> None:
    """Refuse an algorithm the credential's key cannot sign with: another key type, or a PSS salt too long."""
    if algorithm.key_type != key_type:
        raise CscRefused(
            Refusal.INVALID_SIGN_ALGO, f"signAlgo {algorithm.oid} does not fit this credential's {key_type} key"
        )
    if algorithm.salt_length is not None and algorithm.salt_length > _max_pss_salt(key_bits, algorithm):
        raise CscRefused(Refusal.INVALID_SIGN_ALGO_PARAMS, "the PSS salt is too long for this key")
