"""Remote signing for Cloud Signature Consortium clients: the service behind ``/csc/v1`` and ``/csc/v2``.

Both versions of the API (CSC API v1.0.4.0 and v2.0.0.2) are the same five operations over the
credentials held here; only their field names and response shapes differ, which is ``api/routes/csc``'s
business. This package knows nothing of HTTP:

- ``info``, ``list_credentials`` and ``credential_info`` (``credentials``): what the service is and
  implements (§11.1), the caller's usable credentials, their keys and certificates (§11.4, §11.5);
- ``authorize`` (``activation``): the holder's PIN, checked and counted by key custody exactly as any
  other unlock is (five wrong in a row lock the credential), turned into Signature Activation Data (§11.6);
- ``sign_hash`` (``signing``): a batch of digests signed under one SAD (v1.0.4.0 §11.9, v2.0.0.2 §11.10),
  spent on the SAD first (``spending``), with the algorithms of ``algorithms``.

A refused ``sign_hash`` spends nothing: every check runs before the first signature is made.
"""

from .activation import SAD_LIFETIME, SAD_PREFIX, Authorization, SignatureActivation, authorize, decode_hashes
from .algorithms import KEY_ALGOS, KeyType, SignatureAlgorithm, resolve_algorithm
from .credentials import (
    MAX_SIGNATURES,
    METHODS,
    SPECS_V1,
    SPECS_V2,
    CertificateChoice,
    CertificateInfo,
    CredentialInfo,
    KeyInfo,
    ServiceInfo,
    credential_info,
    info,
    list_credentials,
)
from .refusals import CscRefused, Refusal
from .signing import Caller, sign_hash
from .spending import SpentBatch, refund, spend

__all__ = [
    "KEY_ALGOS",
    "MAX_SIGNATURES",
    "METHODS",
    "SAD_LIFETIME",
    "SAD_PREFIX",
    "SPECS_V1",
    "SPECS_V2",
    "Authorization",
    "Caller",
    "CertificateChoice",
    "CertificateInfo",
    "CredentialInfo",
    "CscRefused",
    "KeyInfo",
    "KeyType",
    "Refusal",
    "ServiceInfo",
    "SignatureActivation",
    "SignatureAlgorithm",
    "SpentBatch",
    "authorize",
    "credential_info",
    "decode_hashes",
    "info",
    "list_credentials",
    "refund",
    "resolve_algorithm",
    "sign_hash",
    "spend",
]
