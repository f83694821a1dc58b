"""PDFs from outside — uploaded to verify, to sign, or as documents — handled under the parsing budget.

Every such PDF is first checked by the pre-scan (``pdf_limits``, in ``pdf.read``), then parsed in a worker of
the process's :class:`~esign.parsing_pool.ParsingPool`, with a deadline and a memory cap per task. Verifying
runs entirely in the worker and only the report comes back. Signing needs the server's keys (PKCS#11
sessions, decrypted software keys), so it stays in the server: the worker *vets* the file first, opening it
the way signing does and walking its page tree, and the server opens only files that passed.

``ESIGN_PARSE_ISOLATE=false`` skips the workers (the pre-scan still applies): for tools and tests that run
one trusted file at a time.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from . import archive, pdf, pdf_limits
from . import preview as previews
from . import verify as verification
from .errors import PdfMalformed, PdfTooComplex
from .parsing_pool import ParsingPool, PoolOptions
from .report import VerificationReport
from .trust import TrustSettings

_lock = threading.Lock()
_pool: ParsingPool | None = None


def pool() -> ParsingPool | None:
    """The process's pool, started on first use; ``None`` when isolation is off."""
    global _pool
    budget = pdf_limits.configured()
    if not budget.isolate:
        return None
    with _lock:
        if _pool is None:
            _pool = ParsingPool(
                PoolOptions(
                    workers=budget.workers,
                    queue=budget.queue,
                    timeout_s=budget.timeout_s,
                    memory_mb=budget.memory_mb,
                    preload=("esign.verify", "esign.preview"),
                )
            )
        return _pool


def shutdown() -> None:
    """Kills the workers (a parse in progress included); the next use starts a new pool."""
    global _pool
    with _lock:
        closing, _pool = _pool, None
    if closing is not None:
        closing.close()


atexit.register(shutdown)


Upload = bytes | Path
"""A PDF from outside: its bytes, or the path of the file holding it, which the worker opens itself and reads
as a stream (so a large file crosses to the worker as a name, not as a copy)."""


@contextlib.contextmanager
def _opened(data: Upload) -> Iterator[pdf.Source]:
    if isinstance(data, bytes):
        yield data
    else:
        with data.open("rb") as reading:
            yield reading


def _prescan(data: Upload) -> None:
    """The pre-scan, here before a worker is taken: a file it refuses costs milliseconds, so it gets its 422
    even while every worker is busy, instead of a 503 for a parse it never needed."""
    with _opened(data) as source:
        pdf_limits.check(source, pdf_limits.configured().structure)


def verify(data: Upload, trust: TrustSettings, *, at: datetime | None = None) -> VerificationReport:
    """``esign.verify.verify`` in a worker: the same report, or ``PdfTooComplex``/``Busy`` besides its errors."""
    workers = pool()
    if workers is None:
        with _opened(data) as source:
            return verification.verify(source, trust, at=at)
    _prescan(data)
    anchors, others = (tuple(c.dump() for c in certs) for certs in (trust.anchors, trust.other_certs))
    bare = replace(trust, anchors=(), other_certs=())
    return workers.run(_verify, data, bare, anchors, others, at)


def verify_with_preview(data: bytes, trust: TrustSettings) -> tuple[VerificationReport, previews.Preview]:
    """The report and the page previews from one task in one worker: the file crosses to the worker once, and a
    page that shows both costs one admission, not two. A file verified but not rendered has no previews."""
    workers = pool()
    if workers is None:
        return verification.verify(data, trust), _preview_or_none(data)
    _prescan(data)
    anchors, others = (tuple(c.dump() for c in certs) for certs in (trust.anchors, trust.other_certs))
    bare = replace(trust, anchors=(), other_certs=())
    return workers.run(_verify_with_preview, data, bare, anchors, others)


def preview(data: bytes) -> previews.Preview:
    """Page previews alone, in a worker: for a page that asks for them beside its verification, in parallel."""
    workers = pool()
    if workers is None:
        return previews.preview(data)
    _prescan(data)
    return workers.run(previews.preview, data)


def _verify_with_preview(
    data: bytes, trust: TrustSettings, anchors: tuple[bytes, ...], others: tuple[bytes, ...]
) -> tuple[VerificationReport, previews.Preview]:
    """In the worker: the preview only once verification accepted the file."""
    return _verify(data, trust, anchors, others), _preview_or_none(data)


def _preview_or_none(data: bytes) -> previews.Preview:
    try:
        return previews.preview(data)
    except PdfMalformed:
        return previews.Preview(pages=(), page_count=0)


_parsed: dict[tuple[tuple[bytes, ...], tuple[bytes, ...]], tuple[tuple[asn1_x509.Certificate, ...], ...]] = {}
"""In a worker: certificates already parsed, by their DER. asn1crypto parses lazily and caches what it parsed
on the object, so a verification with yesterday's anchor objects is faster than with fresh ones."""


def _verify(
    data: Upload,
    trust: TrustSettings,
    anchors: tuple[bytes, ...],
    others: tuple[bytes, ...],
    at: datetime | None = None,
) -> VerificationReport:
    """In the worker. Certificates travel as DER: asn1crypto's parsed objects do not survive pickling."""
    key = (anchors, others)
    if (parsed := _parsed.get(key)) is None:
        if len(_parsed) >= 16:
            _parsed.clear()
        load = asn1_x509.Certificate.load
        parsed = _parsed[key] = (tuple(map(load, anchors)), tuple(map(load, others)))
    with _opened(data) as source:
        return verification.verify(source, replace(trust, anchors=parsed[0], other_certs=parsed[1]), at=at)


def vet(data: Upload) -> None:
    """Raises what opening ``data`` for signing would raise, or ``PdfTooComplex``, having opened it in a worker."""
    workers = pool()
    if workers is None:
        _vet(data)
    else:
        _prescan(data)
        workers.run(_vet, data)


def _vet(data: Upload) -> None:
    with _opened(data) as source:
        writer = pdf.incremental_writer(source)
        try:
            list(enumerate_sig_fields(writer.prev))
            _walk_pages(writer.prev)
        except pdf.PARSE_ERRORS as e:
            raise PdfMalformed(f"the PDF's structure cannot be read: {e}") from e


def _walk_pages(reader: PdfFileReader) -> int:
    """Counts the leaves of the page tree (ISO 32000-1 §7.7.3.2), refusing a tree that loops."""
    seen: set[int] = set()
    pending: list[generic.PdfObject] = [reader.root.raw_get("/Pages")]
    pages = 0
    while pending:
        node = pending.pop()
        if isinstance(node, generic.IndirectObject):
            if node.idnum in seen:
                raise PdfMalformed(f"the page tree loops through object {node.idnum}")
            seen.add(node.idnum)
            node = node.get_object()
        if not isinstance(node, generic.DictionaryObject):
            raise PdfMalformed("a node of the page tree is not a dictionary")
        kids = node.raw_get("/Kids") if "/Kids" in node else None
        if kids is None:
            pages += 1
            continue
        kids = kids.get_object() if isinstance(kids, generic.IndirectObject) else kids
        if not isinstance(kids, generic.ArrayObject):
            raise PdfMalformed("a node's /Kids in the page tree is not an array")
        pending.extend(kids.raw_get(i) for i in range(len(kids)))
    return pages


def assess(data: Upload) -> archive.Assessment:
    """``esign.archive.assess`` in a worker: what a stored PDF's archive time-stamp protects. A file the budget
    refuses (``PdfTooComplex``) is unreadable; ``Busy`` is raised, as for a verification."""
    workers = pool()
    if workers is None:
        return _assess(data)
    try:
        return workers.run(_assess, data)
    except PdfTooComplex:
        return archive.Assessment(archive.Preservation.UNREADABLE)


def _assess(data: Upload) -> archive.Assessment:
    with _opened(data) as source:
        return archive.assess(source)
