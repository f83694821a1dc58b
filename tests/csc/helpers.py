"""Small CSC API calls shared by the tests: plain JSON over HTTP, in each version's field names."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any, Protocol

from asn1crypto import algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

SHA256, SHA384, SHA512 = "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.2", "2.16.840.1.101.3.4.2.3"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"


class _Response(Protocol):
    status_code: int

    def json(self) -> Any: ...


class _Http(Protocol):
    def post(self, url: str, *, json: Any = ..., headers: dict[str, str] | None = ...) -> Any: ...


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    http: _Http, version: str, method: str, token: str | None, body: dict[str, Any] | None = None, *, base: str = ""
) -> Any:
    return http.post(f"{base}/csc/{version}/{method}", json=body or {}, headers=bearer(token) if token else {})


def digests(n: int, size: int = 32) -> list[bytes]:
    return [hashlib.new({32: "sha256", 48: "sha384", 64: "sha512"}[size], os.urandom(16)).digest() for _ in range(n)]


def b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


def authorize(
    http: _Http,
    token: str,
    credential_id: str,
    pin: str,
    *,
    n: int = 1,
    hashes_: list[bytes] | None = None,
    version: str = "v1",
    base: str = "",
) -> str:
    body: dict[str, Any] = {"credentialID": credential_id, "numSignatures": n}
    if version == "v1":
        body["PIN"] = pin
        if hashes_ is not None:
            body["hash"] = b64(hashes_)
    else:
        body["authData"] = [{"id": "PIN", "value": pin}]
        if hashes_ is not None:
            body["hashes"] = b64(hashes_)
            body["hashAlgorithmOID"] = SHA256
    response = call(http, version, "credentials/authorize", token, body, base=base)
    assert response.status_code == 200, response.json()
    return str(response.json()["SAD"])


def sign_hash(
    http: _Http,
    token: str,
    credential_id: str,
    sad: str,
    values: list[bytes],
    *,
    version: str = "v1",
    sign_algo: str = ECDSA_SHA256,
    hash_algo: str | None = SHA256,
    params: str | None = None,
    base: str = "",
) -> Any:
    body: dict[str, Any] = {"credentialID": credential_id, "SAD": sad, "signAlgo": sign_algo}
    body["hash" if version == "v1" else "hashes"] = b64(values)
    if hash_algo is not None:
        body["hashAlgo" if version == "v1" else "hashAlgorithmOID"] = hash_algo
    if params is not None:
        body["signAlgoParams"] = params
    return call(http, version, "signatures/signHash", token, body, base=base)


def certificate(http: _Http, token: str, credential_id: str, *, base: str = "") -> x509.Certificate:
    response = call(http, "v1", "credentials/info", token, {"credentialID": credential_id}, base=base)
    assert response.status_code == 200, response.json()
    return x509.load_der_x509_certificate(base64.b64decode(response.json()["cert"]["certificates"][0]))


def verifies(
    cert: x509.Certificate, signature: bytes, digest: bytes, *, hash_name: str = "sha256", pss_salt: int | None = None
) -> bool:
    """Does ``signature`` verify over the prehashed ``digest`` with the certificate's public key?"""
    algorithms: dict[str, hashes.HashAlgorithm] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    algorithm = algorithms[hash_name]
    key = cert.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(Prehashed(algorithm)))
        elif isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
            if pss_salt is not None:
                pad = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=pss_salt)
            key.verify(signature, digest, pad, Prehashed(algorithm))
        else:
            raise AssertionError(f"unexpected key {type(key).__name__}")
    except InvalidSignature:
        return False
    return True


def pss_params(hash_name: str, salt: int) -> str:
    """Base64 DER RSASSA-PSS-params (RFC 8017 §A.2.3) with MGF1 over the same hash: ``signAlgoParams``."""
    params = algos.RSASSAPSSParams(
        {
            "hash_algorithm": {"algorithm": hash_name},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": hash_name}},
            "salt_length": salt,
        }
    )
    return base64.b64encode(params.dump()).decode()
