"""Reading an RFC 3161 TimeStampReq (§2.4.1) and the rejections it can earn (§2.4.2).

``read`` walks the usual request, the one pyhanko and ``openssl ts -query`` send, with asn1crypto's
tag-length-value parser only: decoding the whole request as asn1crypto objects costs more than signing
the token. Anything else — an unusual but legal encoding, a field to refuse, broken DER — goes to the
full asn1crypto decoding, which alone decides every rejection, so both ways answer a request the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import algos, cms, core, parser, tsp

IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}
"""Hash algorithms accepted in a request's messageImprint, with their digest lengths.

SHA-1 is refused (badAlg): a time-stamp over a SHA-1 imprint proves little since chosen-prefix collisions
became practical, and every client we serve (pyhanko, OpenSSL 3) asks with SHA-256 by default.
"""

_PARSE_ERRORS = (ValueError, TypeError, AttributeError, IndexError)
"""What asn1crypto raises on malformed DER: besides ValueError, a mis-tagged field surfaces as an
AttributeError and an empty BIT STRING as an IndexError when the value is first read."""

_UNIVERSAL, _PRIMITIVE, _CONSTRUCTED = 0, 0, 1
_BOOLEAN, _INTEGER, _OCTET_STRING, _NULL, _OID, _SEQUENCE = 1, 2, 4, 5, 6, 16
_IMPRINT_OIDS = {bytes(algos.DigestAlgorithmId(name).contents): length for name, length in IMPRINT_LENGTHS.items()}


@dataclass(frozen=True)
class Request:
    """What a granted token takes from its request: the messageImprint and nonce as they were encoded
    (RFC 3161 §2.4.2: the same values), and whether certificates were asked for."""

    imprint: bytes
    nonce: bytes
    """The nonce INTEGER element, or empty when the request has none."""
    cert_req: bool


@dataclass(frozen=True)
class Rejection:
    failure: str
    """The PKIFailureInfo bit, as asn1crypto names it."""
    text: str


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161 §2.4.2 TimeStampResp. asn1crypto's ``tsp.TimeStampResp`` makes timeStampToken mandatory,
    so it can neither write nor read a rejection, where the token is absent."""

    _fields = [  # noqa: RUF012  (asn1crypto's declaration, which it edits in place)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def rejection_response(reason: Rejection) -> bytes:
    """RFC 3161 §2.4.2: a rejection carries a PKIFailureInfo bit and no token."""
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [reason.text],
            "fail_info": tsp.PKIFailureInfo({reason.failure}),
        }
    )
    return bytes(_TimeStampResp({"status": status}).dump())


def load_response(response_der: bytes) -> _TimeStampResp:
    """A TimeStampResp, granted or not."""
    response: _TimeStampResp = _TimeStampResp.load(response_der)
    return response


def read(request_der: bytes, *, policy: str, policy_oid: bytes) -> Request | Rejection:
    """The request, or why it is refused. ``policy_oid`` is the contents octets of ``policy``'s OID."""
    return _walk(request_der, policy_oid) or _decode(request_der, policy)


Element = tuple[int, int, int, bytes, bytes, bytes]
"""asn1crypto.parser's view of one element: class, method, tag, header, contents, trailer."""


def _elements(data: bytes) -> list[Element]:
    """The definite-length elements ``data`` is made of, in order."""
    found = []
    while data:
        element: Element = parser.parse(data)
        if element[5]:
            raise ValueError("indefinite length")
        found.append(element)
        data = data[len(element[3]) + len(element[4]) :]
    return found


def _is(element: Element, tag: int, method: int = _PRIMITIVE) -> bool:
    return element[0] == _UNIVERSAL and element[1] == method and element[2] == tag


def _walk(request_der: bytes, policy_oid: bytes) -> Request | None:
    """The request when it is the usual one, to be granted; ``None`` to leave it to ``_decode``.

    Usual: version 1, a SHA-2 messageImprint of the right length whose algorithm has absent or NULL
    parameters, then optionally our own policy, a nonce, certReq; no extensions.
    """
    try:
        request = parser.parse(request_der, strict=True)
        if not _is(request, _SEQUENCE, _CONSTRUCTED) or request[5]:
            return None
        version, imprint, *rest = _elements(request[4])
        if not (_is(version, _INTEGER) and version[4] == b"\x01" and _is(imprint, _SEQUENCE, _CONSTRUCTED)):
            return None
        algorithm, digest = _elements(imprint[4])
        if not _is(algorithm, _SEQUENCE, _CONSTRUCTED):
            return None
        oid, *parameters = _elements(algorithm[4])
    except ValueError:
        return None
    if not _is(oid, _OID) or oid[4] not in _IMPRINT_OIDS:
        return None
    if parameters and not (len(parameters) == 1 and _is(parameters[0], _NULL) and not parameters[0][4]):
        return None
    if not _is(digest, _OCTET_STRING) or len(digest[4]) != _IMPRINT_OIDS[oid[4]]:
        return None
    nonce, cert_req = b"", False
    for expected in (_OID, _INTEGER, _BOOLEAN):
        if rest and _is(rest[0], expected):
            element = rest.pop(0)
            if expected == _OID and element[4] != policy_oid:
                return None
            if expected == _INTEGER and not element[4]:
                return None
            if expected == _BOOLEAN and element[4] not in (b"\x00", b"\xff"):
                return None
            if expected == _INTEGER:
                nonce = element[3] + element[4]
            if expected == _BOOLEAN:
                cert_req = element[4] == b"\xff"
    if rest:
        return None
    return Request(imprint=imprint[3] + imprint[4], nonce=nonce, cert_req=cert_req)


def _decode(request_der: bytes, policy: str) -> Request | Rejection:
    """The whole request as asn1crypto reads it, checked against the rules of RFC 3161 §2.4.1."""
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        _ = request.native
    except _PARSE_ERRORS:
        return Rejection("bad_data_format", "the request is not a DER TimeStampReq")
    if request["version"].native != "v1":
        return Rejection("bad_request", "only version 1 requests are understood")
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in IMPRINT_LENGTHS:
        return Rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
    if len(imprint["hashed_message"].native) != IMPRINT_LENGTHS[algorithm]:
        return Rejection("bad_data_format", f"the imprint is not a {algorithm} digest")
    requested = request["req_policy"]
    if requested.native is not None and requested.dotted != policy:
        return Rejection("unaccepted_policy", f"policy {requested.dotted} is not served")
    if request["extensions"].native:
        return Rejection("unaccepted_extensions", "request extensions are not supported")
    nonce = request["nonce"]
    return Request(
        imprint=imprint.dump(),
        nonce=b"" if nonce.native is None else nonce.dump(),
        cert_req=bool(request["cert_req"].native),
    )
