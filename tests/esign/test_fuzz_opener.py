"""A fuzz target for the opener of outside PDFs: mutated files are opened as signing opens them, under the
parsing budget, and must come back opened or refused with a ``PdfError`` (a 4xx), never with anything else
(a 500) and never hang.

The run is bounded and repeatable (a fixed seed, a fixed number of examples); every input that ever failed is
kept under ``fuzz_regressions/`` and replayed first, so a fixed crash stays fixed. To keep a new one: write the
bytes hypothesis reports to ``fuzz_regressions/<short name>.pdf``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esign import budget
from esign.errors import PdfError
from tests import hostile
from tests.conftest import make_pdf

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"
SEEDS = (make_pdf(), make_pdf(pages=2, form_field=True), hostile.prev_loop(), hostile.page_tree_cycle())
NUMBERS = (b"0", b"-1", b"2147483648", b"99999999999999999999", b"1e308", b"00000000000")


def _opened_or_refused(data: bytes) -> None:
    with contextlib.suppress(PdfError):
        budget.vet(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        how = draw(st.sampled_from(("flip", "delete", "insert", "number", "splice")))
        if how == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif how == "number":
            digits = [i for i, byte in enumerate(data) if chr(byte).isdigit()]
            if digits:
                where = digits[draw(st.integers(0, len(digits) - 1))]
                data[where : where + 1] = draw(st.sampled_from(NUMBERS))
        else:
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(0, len(other) - 1))
            data[at:at] = other[start : start + draw(st.integers(1, 256))]
    return bytes(data)


@pytest.mark.parametrize("kept", sorted(REGRESSIONS.glob("*.pdf")), ids=lambda path: path.name)
def test_kept_regressions_are_opened_or_refused(kept: Path) -> None:
    _opened_or_refused(kept.read_bytes())


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_mutated_pdfs_are_opened_or_refused(data: bytes) -> None:
    _opened_or_refused(data)
