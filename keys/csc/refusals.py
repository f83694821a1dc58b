"""Why a CSC request is refused, as the spec's error tables name it."""

from __future__ import annotations

import enum

from ..errors import KeysError


class Refusal(enum.StrEnum):
    """Why a CSC request is refused. Each is one row of a method's error table in the spec; the API words
    it the way its version does (e.g. ``hashAlgo`` in v1.0.4.0 is ``hashAlgorithmOID`` in v2.0.0.2)."""

    INVALID_CREDENTIAL = "invalid_credential"
    CREDENTIAL_DISABLED = "credential_disabled"
    CERTIFICATE_EXPIRED = "certificate_expired"
    MISSING_PIN = "missing_pin"
    INVALID_NUM_SIGNATURES = "invalid_num_signatures"
    TOO_MANY_SIGNATURES = "too_many_signatures"
    INVALID_HASH = "invalid_hash"
    EMPTY_HASHES = "empty_hashes"
    INVALID_HASH_LENGTH = "invalid_hash_length"
    INVALID_SAD = "invalid_sad"
    SAD_EXPIRED = "sad_expired"
    HASH_NOT_AUTHORISED = "hash_not_authorised"
    INVALID_SIGN_ALGO = "invalid_sign_algo"
    MISSING_SIGN_ALGO_PARAMS = "missing_sign_algo_params"
    INVALID_SIGN_ALGO_PARAMS = "invalid_sign_algo_params"
    MISSING_HASH_ALGO = "missing_hash_algo"
    INVALID_HASH_ALGO = "invalid_hash_algo"
    INVALID_USER_ID = "invalid_user_id"
    INVALID_PAGE_TOKEN = "invalid_page_token"


class CscRefused(KeysError):
    """A CSC request refused before anything was signed or spent; ``message`` says why in plain words."""

    code = "invalid_request"

    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
