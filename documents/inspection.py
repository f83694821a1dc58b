"""What a document's page shows of a revision — its verification report and its page previews — kept in the
process, so that a page viewed again costs neither a verification nor a rendering.

A revision never changes once stored (its key is its SHA-256), so its previews are kept until the memory
budget pushes them out, least recently used first. Its report can change: a certificate revoked, a
certificate expiring, revocation data growing old. So a report is used again only while

- the revocation signal's epoch is the one read before the report was made: a revocation committed since,
  by any process, starts a new epoch (``keys.revocation_signal``), and with it a new verification; while the
  signal cannot tell (epoch ``None``) no report is kept; and
- it is younger than ``report_ttl`` (five minutes by default), so what time alone changes shows within that.

The report states the time it was validated at, which the page shows.

A verification that fails (the parsing budget's deadline passed on a busy machine, every worker taken) is
remembered for ``retry_after_s``: the page says at once that the revision could not be verified now, instead of
each view spending the whole budget again and failing the same way.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from esign import budget
from esign.errors import EsignError
from esign.preview import Preview
from esign.report import VerificationReport
from esign.trust import TrustSettings

Epoch = Callable[[], int | None]


@dataclass(frozen=True)
class InspectionOptions:
    report_ttl_s: float = 300.0
    reports: int = 4096
    """Reports kept at most (a few KiB each)."""
    preview_bytes: int = 32 * 1024 * 1024
    """Bytes of preview images kept at most."""
    retry_after_s: float = 60.0
    """How long a failed verification is answered with its error before it is tried again."""


@dataclass(frozen=True)
class _Report:
    report: VerificationReport
    epoch: int
    made: float


class Inspections:
    def __init__(self, epoch: Epoch, options: InspectionOptions | None = None) -> None:
        self._epoch = epoch
        self._options = options or InspectionOptions()
        self._reports: OrderedDict[str, _Report] = OrderedDict()
        self._previews: OrderedDict[str, Preview] = OrderedDict()
        self._preview_bytes = 0
        self._failed: dict[str, tuple[EsignError, float]] = {}
        self._lock = threading.Lock()

    def inspect(
        self, digest: str, *, load: Callable[[], bytes], trust: Callable[[], TrustSettings]
    ) -> tuple[VerificationReport, Preview]:
        """The report and previews of the revision whose content has SHA-256 ``digest``; ``load`` reads its
        bytes and ``trust`` gives the trust to verify with, each called only if something must be made. Raises
        what :mod:`esign.budget` raises for a file it cannot verify, and the same again for ``retry_after_s``."""
        epoch = self._epoch()  # before verifying: a revocation committed meanwhile makes the report stale
        with self._lock:
            failed = self._failed.get(digest)
            if failed is not None and time.monotonic() - failed[1] < self._options.retry_after_s:
                raise failed[0]
            self._failed.pop(digest, None)
            kept_report = self._fresh_report(digest, epoch)
            kept_preview = self._previews.get(digest)
            if kept_preview is not None:
                self._previews.move_to_end(digest)
        if kept_report is not None and kept_preview is not None:
            return kept_report, kept_preview
        try:
            data = load()
            if kept_report is None and kept_preview is None:
                report, preview = budget.verify_with_preview(data, trust())
            else:
                report = kept_report or budget.verify(data, trust())
                preview = kept_preview or budget.preview(data)
        except EsignError as error:
            with self._lock:
                self._failed[digest] = (error, time.monotonic())
                while len(self._failed) > self._options.reports:
                    self._failed.pop(next(iter(self._failed)))
            raise
        with self._lock:
            if epoch is not None:
                self._keep_report(digest, _Report(report, epoch, time.monotonic()))
            self._keep_preview(digest, preview)
        return report, preview

    def _fresh_report(self, digest: str, epoch: int | None) -> VerificationReport | None:
        kept = self._reports.get(digest)
        if kept is None or epoch is None or kept.epoch != epoch:
            return None
        if time.monotonic() - kept.made > self._options.report_ttl_s:
            return None
        self._reports.move_to_end(digest)
        return kept.report

    def _keep_report(self, digest: str, kept: _Report) -> None:
        self._reports[digest] = kept
        self._reports.move_to_end(digest)
        while len(self._reports) > self._options.reports:
            self._reports.popitem(last=False)

    def _keep_preview(self, digest: str, preview: Preview) -> None:
        if digest in self._previews:
            return
        size = _size(preview)
        if size > self._options.preview_bytes:
            return
        self._previews[digest] = preview
        self._preview_bytes += size
        while self._preview_bytes > self._options.preview_bytes:
            _, dropped = self._previews.popitem(last=False)
            self._preview_bytes -= _size(dropped)


def _size(preview: Preview) -> int:
    return sum(len(page.image) for page in preview.pages)
