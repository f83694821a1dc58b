"""Assembling DER (ITU-T X.690) from pieces that were encoded once.

The time-stamping unit and the OCSP responder answer every request with a structure in which all but a
few fields are the same from one answer to the next. asn1crypto encodes those constant parts once; a
request only adds a serial number, a time, a digest and a signature, wrapped here in their
tag-length-value headers. Building the whole structure as asn1crypto objects cost milliseconds a token.
"""

from __future__ import annotations

import functools
from datetime import datetime

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


def context(number: int, *, constructed: bool = True) -> int:
    """The identifier octet of context-specific tag ``[number]`` (X.690 §8.1.2), for tags up to 30."""
    if not 0 <= number <= 30:
        raise ValueError("only low tag numbers are written here")
    return 0x80 | (0x20 if constructed else 0) | number


def length(size: int) -> bytes:
    """X.690 §10.1: the definite form, in the fewest octets."""
    if size < 0x80:
        return bytes((size,))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def tlv(tag: int, *contents: bytes) -> bytes:
    """One element: identifier octet, length, then ``contents`` concatenated."""
    body = contents[0] if len(contents) == 1 else b"".join(contents)
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    return bytes((tag,)) + length(size) + body


def integer(value: int) -> bytes:
    """X.690 §8.3: two's complement in the fewest octets."""
    size = ((value + (value < 0)).bit_length() + 8) // 8
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def set_of(elements: list[bytes]) -> bytes:
    """X.690 §11.6: the elements of a DER SET OF are sorted by their encodings."""
    return tlv(SET, *sorted(elements))


def retag(element: bytes, tag: int) -> bytes:
    """``element`` under another tag, as IMPLICIT tagging writes it (X.690 §8.14.3)."""
    return bytes((tag,)) + element[1:]


def _require_utc(moment: datetime) -> None:
    if moment.utcoffset():
        raise ValueError("times are written in UTC")


@functools.lru_cache(maxsize=4)
def generalized_time(moment: datetime) -> bytes:
    """X.690 §11.7: UTC with a ``Z``; a fraction of a second only when there is one, without trailing zeros.

    ``moment`` must be in UTC. The last few are remembered: every token of one second has the same.
    """
    _require_utc(moment)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return tlv(GENERALIZED_TIME, f"{moment:%Y%m%d%H%M%S}{fraction}Z".encode())


@functools.lru_cache(maxsize=4)
def utc_time(moment: datetime) -> bytes:
    """X.690 §11.8: YYMMDDHHMMSSZ, for the years 1950 to 2049. ``moment`` must be in UTC."""
    _require_utc(moment)
    if not 1950 <= moment.year <= 2049:
        raise ValueError("UTCTime only covers 1950 to 2049")
    return tlv(UTC_TIME, f"{moment:%y%m%d%H%M%S}Z".encode())
