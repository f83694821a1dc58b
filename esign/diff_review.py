"""The difference analysis of a file, done once per signed revision within one verification.

pyhanko reviews the revisions added after a signed revision (``DiffPolicy.review_file``) whenever it is asked:
for esign's own integrity check of each signature and document time-stamp, again inside
``async_validate_pdf_timestamp``, and, in a long-term validation (``ades_lta_validation``), once for *every*
signature of the file each time, to index the proofs of existence. One review compares the base revision
with each later one, and each comparison walks the DSS, which every B-LTA signature makes larger; repeated
like that, a document signed 19 times took a minute to verify. The answer depends only on the file, the base
revision and the locks in force (FieldMDP, DocMDP), so :class:`ReviewOnce` keeps it for the reader it was
made for and pyhanko's own review does the work, unchanged, once.
"""

from __future__ import annotations

from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffPolicy, DiffResult, SuspiciousModification
from pyhanko.sign.fields import FieldMDPSpec, MDPPerm

_Key = tuple[int, str, MDPPerm | None]


class ReviewOnce(DiffPolicy):
    """``DEFAULT_DIFF_POLICY`` with its reviews of one reader kept; make one per reader."""

    def __init__(self, reader: PdfFileReader, policy: DiffPolicy = DEFAULT_DIFF_POLICY) -> None:
        self._reader = reader
        self._policy = policy
        self._reviews: dict[_Key, DiffResult | SuspiciousModification] = {}

    def apply(
        self,
        old: HistoricalResolver,
        new: HistoricalResolver,
        field_mdp_spec: FieldMDPSpec | None = None,
        doc_mdp: MDPPerm | None = None,
    ) -> DiffResult:
        return self._policy.apply(old, new, field_mdp_spec, doc_mdp)

    def review_file(
        self,
        reader: PdfFileReader,
        base_revision: int | HistoricalResolver,
        field_mdp_spec: FieldMDPSpec | None = None,
        doc_mdp: MDPPerm | None = None,
    ) -> DiffResult | SuspiciousModification:
        if reader is not self._reader:
            return self._policy.review_file(reader, base_revision, field_mdp_spec, doc_mdp)
        base = base_revision if isinstance(base_revision, int) else base_revision.revision
        key = (base, repr(field_mdp_spec), doc_mdp)
        if key not in self._reviews:
            self._reviews[key] = self._policy.review_file(reader, base_revision, field_mdp_spec, doc_mdp)
        return self._reviews[key]
