"""The request and response bodies of both CSC API versions, in the spec's field names."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    """A request body: JSON types as the spec gives them (strict), unknown members ignored.

    Unlike the /v1 bodies (which refuse unknown members), CSC stays lenient on purpose: conforming clients
    send optional parameters this service does not model (v2 signHash's ``validity_period`` and
    ``response_uri``, members of later spec versions), and refusing them would break those clients."""

    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True, extra="ignore")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class InfoIn(_In):
    lang: str | None = None


class InfoV1Out(_Out):
    """v1.0.4.0 §11.1 info."""

    specs: str
    name: str
    logo: str
    region: str
    lang: str
    description: str
    auth_type: list[str] = Field(alias="authType")
    methods: list[str]


class SignAlgorithmsOut(_Out):
    algos: list[str]


class SignatureFormatsOut(_Out):
    formats: list[str]


class InfoV2Out(InfoV1Out):
    """v2.0.0.2 §11.1 info: v1's fields, and the signature algorithms; no AdES formats (``signatures/signDoc``
    is not offered) and no asynchronous mode."""

    sign_algorithms: SignAlgorithmsOut = Field(alias="signAlgorithms")
    signature_formats: SignatureFormatsOut = Field(alias="signature_formats")
    conformance_levels: list[str] = Field(alias="conformance_levels")
    asynchronous_operation_mode: bool = Field(alias="asynchronousOperationMode")


class ListV1In(_In):
    """v1.0.4.0 §11.4 credentials/list."""

    user_id: str | None = Field(default=None, alias="userID")
    max_results: int | None = Field(default=None, alias="maxResults", ge=1)
    page_token: str | None = Field(default=None, alias="pageToken")
    client_data: str | None = Field(default=None, alias="clientData")


class ListV1Out(_Out):
    credential_ids: list[str] = Field(alias="credentialIDs")
    next_page_token: str | None = Field(default=None, alias="nextPageToken")


CertificateChoice = Literal["none", "single", "chain"]


class InfoOptions(_In):
    certificates: CertificateChoice = "single"
    cert_info: bool = Field(default=False, alias="certInfo")
    auth_info: bool = Field(default=False, alias="authInfo")
    lang: str | None = None
    client_data: str | None = Field(default=None, alias="clientData")


class CredentialInfoIn(InfoOptions):
    """v1.0.4.0 §11.5 / v2.0.0.2 §11.5 credentials/info."""

    credential_id: str = Field(alias="credentialID")


class ListV2In(InfoOptions):
    """v2.0.0.2 §11.4 credentials/list."""

    user_id: str | None = Field(default=None, alias="userID")
    credential_info: bool = Field(default=False, alias="credentialInfo")
    only_valid: bool = Field(default=False, alias="onlyValid")


class KeyOut(_Out):
    status: Literal["enabled", "disabled"]
    algo: list[str]
    len: int
    curve: str | None = None


class CertOut(_Out):
    status: Literal["valid", "expired", "revoked", "suspended"]
    certificates: list[str] | None = None
    issuer_dn: str | None = Field(default=None, alias="issuerDN")
    serial_number: str | None = Field(default=None, alias="serialNumber")
    subject_dn: str | None = Field(default=None, alias="subjectDN")
    valid_from: str | None = Field(default=None, alias="validFrom")
    valid_to: str | None = Field(default=None, alias="validTo")


class PinOut(_Out):
    presence: Literal["true", "false", "optional"]
    format: Literal["A", "N"] | None = None
    label: str | None = None
    description: str | None = None


class CredentialInfoV1Out(_Out):
    """v1.0.4.0 §11.5: ``authMode`` explicit, a PIN always (presence ``true``), never an OTP."""

    description: str
    key: KeyOut
    cert: CertOut
    auth_mode: Literal["explicit"] = Field(alias="authMode")
    pin: PinOut = Field(alias="PIN")
    otp: PinOut = Field(alias="OTP")
    multisign: int
    scal: Literal["1", "2"] = Field(alias="SCAL")
    lang: str


class AuthObjectOut(_Out):
    type: Literal["Password"]
    id: str
    format: Literal["A", "N"] | None = None
    label: str | None = None
    description: str | None = None


class AuthOut(_Out):
    mode: Literal["explicit"]
    expression: str | None = None
    objects: list[AuthObjectOut] | None = None


class CredentialInfoV2Out(_Out):
    """v2.0.0.2 §11.5 (and each of §11.4's ``credentialInfos``): ``auth`` explicit with one Password object, the PIN."""

    credential_id: str | None = Field(default=None, alias="credentialID")
    description: str
    key: KeyOut
    cert: CertOut
    auth: AuthOut
    multisign: int
    scal: Literal["1", "2"] = Field(alias="SCAL")
    lang: str


class ListV2Out(_Out):
    credential_ids: list[str] = Field(alias="credentialIDs")
    credential_infos: list[CredentialInfoV2Out] | None = Field(default=None, alias="credentialInfos")
    only_valid: bool | None = Field(default=None, alias="onlyValid")


class AuthorizeV1In(_In):
    """v1.0.4.0 §11.6 credentials/authorize."""

    credential_id: str = Field(alias="credentialID")
    num_signatures: int = Field(alias="numSignatures")
    hash: list[str] | None = None
    pin: str | None = Field(default=None, alias="PIN")
    otp: str | None = Field(default=None, alias="OTP")
    description: str | None = Field(default=None, max_length=500)
    client_data: str | None = Field(default=None, alias="clientData")


class AuthDataIn(_In):
    """v2.0.0.2 §8.3 an authentication object: ``{"id": "PIN", "value": "..."}``."""

    id: str
    value: str | None = None


class AuthorizeV2In(_In):
    """v2.0.0.2 §11.6 credentials/authorize. The PIN is the ``authData`` object with id ``PIN``; a top-level
    ``PIN`` (as v2.0.0.0 clients send it) is accepted too."""

    credential_id: str = Field(alias="credentialID")
    num_signatures: int = Field(alias="numSignatures")
    hashes: list[str] | None = None
    hash_algorithm_oid: str | None = Field(default=None, alias="hashAlgorithmOID")
    auth_data: list[AuthDataIn] | None = Field(default=None, alias="authData")
    pin: str | None = Field(default=None, alias="PIN")
    otp: str | None = Field(default=None, alias="OTP")
    description: str | None = Field(default=None, max_length=500)
    client_data: str | None = Field(default=None, alias="clientData")


class AuthorizeOut(_Out):
    sad: str = Field(alias="SAD")
    expires_in: int = Field(alias="expiresIn")


class SignHashV1In(_In):
    """v1.0.4.0 §11.9 signatures/signHash."""

    credential_id: str = Field(alias="credentialID")
    sad: str = Field(alias="SAD")
    hash: list[str]
    hash_algo: str | None = Field(default=None, alias="hashAlgo")
    sign_algo: str = Field(alias="signAlgo")
    sign_algo_params: str | None = Field(default=None, alias="signAlgoParams")
    client_data: str | None = Field(default=None, alias="clientData")


class SignHashV2In(_In):
    """v2.0.0.2 §11.10 signatures/signHash; synchronous only (``operationMode`` ``S``)."""

    credential_id: str = Field(alias="credentialID")
    sad: str = Field(alias="SAD")
    hashes: list[str]
    hash_algorithm_oid: str | None = Field(default=None, alias="hashAlgorithmOID")
    sign_algo: str = Field(alias="signAlgo")
    sign_algo_params: str | None = Field(default=None, alias="signAlgoParams")
    operation_mode: Literal["S"] = Field(default="S", alias="operationMode")
    client_data: str | None = Field(default=None, alias="clientData")


class SignHashOut(_Out):
    signatures: list[str]
    """Base64 raw signatures, in the order of the hashes."""


def _kind(annotation: Any) -> str:
    """How the spec names a parameter's JSON type in "Missing (or invalid type) <kind> parameter <name>"."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation) or annotation
    if origin is list:
        return "array"
    if origin is bool:
        return "boolean"
    if origin is int:
        return "integer"
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return "object"
    return "string"


def _field_kinds(*models: type[BaseModel]) -> dict[str, str]:
    return {
        field.alias or name: _kind(field.annotation) for model in models for name, field in model.model_fields.items()
    }


KINDS = _field_kinds(ListV1In, ListV2In, CredentialInfoIn, AuthorizeV1In, AuthorizeV2In, SignHashV1In, SignHashV2In)
