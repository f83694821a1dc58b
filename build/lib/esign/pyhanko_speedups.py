"""Faster drop-ins for two pyhanko hot spots, installed when the engine is imported.

Both give exactly the results of the functions they replace; ``tests/esign/test_speedups.py`` checks it.

pyhanko reads PDF hex strings one byte at a time through a generator. Every signature dictionary holds
its CMS container as a hex string of several kilobytes (mostly zero padding), so that loop alone took about
a third of the time to verify a one-page signed PDF. ``read_hex_string`` gives the same result and raises
the same errors (whitespace ignored, an odd last digit padded with 0, anything but a hex digit rejected),
reading the string in one slice; a comment inside a hex string, which pyhanko also tolerates, falls back
to pyhanko's own reader.

``match_issuer_serial`` finds the signer among a CMS container's certificates. pyhanko compares the issuer
first, and two different names take asn1crypto's LDAP string preparation of every attribute: about 40% of
verifying a one-page PDF went there. Comparing the serial number first skips that for every certificate
that is not the signer, and names with identical DER content are equal without it. pyhanko does try a
byte comparison, but of ``dump()``, which for the name inside an ESS IssuerSerial (an explicitly tagged
GeneralName) includes the [4] tag and so never matches.
"""

from __future__ import annotations

import binascii
import io
import re

from asn1crypto import cms, tsp, x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.sign import general

_original_read_hex_string = generic.read_hex_string_from_stream
_original_match_issuer_serial = general.match_issuer_serial
_NOT_HEX = re.compile(rb"[^0-9a-fA-F]")
_CHUNK = 1 << 16


def read_hex_string(stream: io.BufferedIOBase) -> generic.ByteStringObject | generic.TextStringObject:
    start = stream.tell()
    stream.read(1)
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            raise misc.PdfStreamError("Stream ended prematurely")
        end = chunk.find(b">")
        if end < 0:
            parts.append(chunk)
            continue
        parts.append(chunk[:end])
        stream.seek(end + 1 - len(chunk), io.SEEK_CUR)
        break
    digits = b"".join(parts)
    if b"%" in digits:
        stream.seek(start)
        return _original_read_hex_string(stream)
    digits = digits.translate(None, misc.PDF_WHITESPACE)
    bad = _NOT_HEX.search(digits)
    if bad is not None:
        raise misc.PdfStreamError("Unexpected token in hex string: " + repr(bad.group()))
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def match_issuer_serial(
    expected_issuer_serial: cms.IssuerAndSerialNumber | tsp.IssuerSerial, cert: x509.Certificate
) -> bool:
    if expected_issuer_serial["serial_number"] != cert["tbs_certificate"]["serial_number"]:
        return False
    issuer = expected_issuer_serial["issuer"]
    if isinstance(issuer, x509.GeneralNames) and len(issuer) == 1 and issuer[0].name == "directory_name":
        issuer = issuer[0].chosen
    if isinstance(issuer, x509.Name) and issuer.contents == cert.issuer.contents:
        return True
    return _original_match_issuer_serial(expected_issuer_serial, cert)


def install() -> None:
    generic.read_hex_string_from_stream = read_hex_string
    general.match_issuer_serial = match_issuer_serial
