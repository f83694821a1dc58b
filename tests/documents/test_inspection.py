"""The document page's kept reports and previews: made once, made again when a revocation may have happened or
when they are old, never kept when the revocation signal cannot tell."""

from __future__ import annotations

import hashlib

import pytest

from documents.inspection import InspectionOptions, Inspections
from esign.errors import PdfMalformed
from esign.report import Verdict
from esign.sign import SignOptions, sign
from esign.signers import KeySigner
from esign.trust import TrustSettings


class Clock:
    """A revocation signal whose epoch the test moves, counting what the cache asks for."""

    def __init__(self) -> None:
        self.epoch: int | None = 1

    def __call__(self) -> int | None:
        return self.epoch


class Counted:
    def __init__(self, data: bytes, trust: TrustSettings) -> None:
        self.data, self._trust = data, trust
        self.loads = self.trusts = 0

    def load(self) -> bytes:
        self.loads += 1
        return self.data

    def trust(self) -> TrustSettings:
        self.trusts += 1
        return self._trust


@pytest.fixture(scope="module")
def signed(one_page_pdf: bytes, ec_signer: KeySigner) -> bytes:
    return sign(one_page_pdf, ec_signer, SignOptions())


def test_a_revision_is_verified_and_rendered_once_while_nothing_changes(signed: bytes, trust: TrustSettings) -> None:
    clock, counted = Clock(), Counted(signed, trust)
    inspections = Inspections(clock)
    digest = hashlib.sha256(signed).hexdigest()
    first = inspections.inspect(digest, load=counted.load, trust=counted.trust)
    again = inspections.inspect(digest, load=counted.load, trust=counted.trust)
    assert first[0].verdict is Verdict.VALID and len(first[1].pages) == 1
    assert again == first and (counted.loads, counted.trusts) == (1, 1)


def test_a_new_epoch_verifies_again_and_keeps_the_previews(signed: bytes, trust: TrustSettings) -> None:
    clock, counted = Clock(), Counted(signed, trust)
    inspections = Inspections(clock)
    digest = hashlib.sha256(signed).hexdigest()
    _, preview = inspections.inspect(digest, load=counted.load, trust=counted.trust)
    clock.epoch = 2
    report, kept = inspections.inspect(digest, load=counted.load, trust=counted.trust)
    assert kept is preview and report.verdict is Verdict.VALID
    assert (counted.loads, counted.trusts) == (2, 2)
    inspections.inspect(digest, load=counted.load, trust=counted.trust)
    assert counted.trusts == 2


def test_nothing_is_kept_while_the_signal_cannot_tell(signed: bytes, trust: TrustSettings) -> None:
    clock, counted = Clock(), Counted(signed, trust)
    clock.epoch = None
    inspections = Inspections(clock)
    digest = hashlib.sha256(signed).hexdigest()
    for _ in range(2):
        inspections.inspect(digest, load=counted.load, trust=counted.trust)
    assert counted.trusts == 2


def test_an_old_report_is_made_again(signed: bytes, trust: TrustSettings) -> None:
    counted = Counted(signed, trust)
    inspections = Inspections(Clock(), InspectionOptions(report_ttl_s=0.0))
    digest = hashlib.sha256(signed).hexdigest()
    for _ in range(2):
        inspections.inspect(digest, load=counted.load, trust=counted.trust)
    assert counted.trusts == 2


def test_previews_beyond_the_budget_push_out_the_oldest(
    one_page_pdf: bytes, ec_signer: KeySigner, trust: TrustSettings
) -> None:
    files = [sign(one_page_pdf, ec_signer, SignOptions(reason=f"第{n}份")) for n in range(3)]
    inspections = Inspections(Clock())
    sizes = []
    for data in files:
        _, preview = inspections.inspect(hashlib.sha256(data).hexdigest(), load=lambda d=data: d, trust=lambda: trust)
        sizes.append(sum(len(p.image) for p in preview.pages))
    budgeted = Inspections(Clock(), InspectionOptions(preview_bytes=sizes[1] + sizes[2]))
    for data in files:
        budgeted.inspect(hashlib.sha256(data).hexdigest(), load=lambda d=data: d, trust=lambda: trust)
    first = Counted(files[0], trust)
    budgeted.inspect(hashlib.sha256(files[0]).hexdigest(), load=first.load, trust=first.trust)
    assert (first.loads, first.trusts) == (1, 0)  # the report was kept, the previews were not


def test_a_failed_verification_is_answered_again_then_retried(trust: TrustSettings) -> None:
    counted = Counted(b"%PDF-1.7\nnot a pdf", trust)
    inspections = Inspections(Clock())
    for _ in range(2):
        with pytest.raises(PdfMalformed):
            inspections.inspect("0" * 64, load=counted.load, trust=counted.trust)
    assert counted.loads == 1, "the second view got the first one's error at once"
    retrying = Inspections(Clock(), InspectionOptions(retry_after_s=0.0))
    for _ in range(2):
        with pytest.raises(PdfMalformed):
            retrying.inspect("0" * 64, load=counted.load, trust=counted.trust)
    assert counted.loads == 3
