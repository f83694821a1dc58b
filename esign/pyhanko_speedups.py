"""Faster drop-ins for four pyhanko (and asn1crypto) hot spots, installed when the engine is imported.

Each gives exactly the results of the function it replaces; ``tests/esign/test_speedups.py`` checks it.

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

``parse_children`` is asn1crypto's ``Sequence._parse_children``, and then settles the fields it filled in
with their DEFAULT because the encoding left them out (DER must: X.690 §11.5). asn1crypto builds such a
value as if a caller had set it, so the parsed structure counts as changed and every later ``dump()``
re-encodes it and everything around it instead of returning the bytes it was read from. An ESS certificate
ID (RFC 5035) names SHA-256, its default, by omission; so every CMS signed-attributes set, SignedData and
time-stamp token that carries one, once anything had read into it, was re-encoded at each dump: a third of
making a PAdES signature with a time-stamp (``bench/sign_http.py``). The filled-in value is encoded once, at
parse time, and marked unchanged, so the structure dumps as the bytes it came from; a value a caller does
change afterwards is marked changed as before, and re-encoded.

``introducing_revision`` is ``XRefCache.get_introducing_revision``: the first revision whose cross-reference
section has an object, found by a scan from the oldest section on every call. Difference analysis asks it
for every reference it walks, the DSS's included, once per pair of revisions compared; in a document signed
19 times at B-LTA that scan was a third of verifying it. A reader's sections never change once read, so the
answer is kept per cache and reference (an unknown reference raises ``KeyError`` every time, as before).
"""

from __future__ import annotations

import binascii
import io
import re
import weakref

from asn1crypto import cms, core, tsp, x509
from pyhanko.pdf_utils import generic, misc, xref
from pyhanko.sign import general

_original_read_hex_string = generic.read_hex_string_from_stream
_original_match_issuer_serial = general.match_issuer_serial
_original_parse_children = core.Sequence._parse_children  # noqa: SLF001  # asn1crypto's, replaced below
_original_introducing_revision = xref.XRefCache.get_introducing_revision
_introduced: weakref.WeakKeyDictionary[xref.XRefCache, dict[generic.Reference, int | None]] = (
    weakref.WeakKeyDictionary()
)
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


_CONSTRUCTED = (core.Sequence, core.SequenceOf)


def _settle(value: core.Sequence | core.SequenceOf) -> None:
    value._mutated = False  # noqa: SLF001  # asn1crypto's own record of a change
    for child in value.children or ():
        if isinstance(child, _CONSTRUCTED):
            _settle(child)


def parse_children(self: core.Sequence, recurse: bool = False) -> None:
    _original_parse_children(self, recurse)
    if self._contents is None or not self.children:
        return  # not read from an encoding: asn1crypto's own defaults, to be encoded when dumped
    for child in self.children:
        # A child just parsed from the encoding is unchanged; a changed one is a DEFAULT filled in.
        if isinstance(child, _CONSTRUCTED) and child._is_mutated():  # noqa: SLF001
            child.contents  # noqa: B018  # encodes it (and its own filled-in parts) now, once
            _settle(child)


def introducing_revision(self: xref.XRefCache, ref: generic.Reference) -> int:
    known = _introduced.setdefault(self, {})
    if ref not in known:
        try:
            known[ref] = _original_introducing_revision(self, ref)
        except KeyError:
            known[ref] = None
    found = known[ref]
    if found is None:
        raise KeyError(ref)
    return found


def install() -> None:
    generic.read_hex_string_from_stream = read_hex_string
    general.match_issuer_serial = match_issuer_serial
    core.Sequence._parse_children = parse_children  # noqa: SLF001
    xref.XRefCache.get_introducing_revision = introducing_revision  # type: ignore[method-assign]
