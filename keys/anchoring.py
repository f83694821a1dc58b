"""Anchoring the audit chains with the service's own time-stamping unit (see :mod:`esign.anchors`).

``esign audit anchor`` anchors at once and exports the anchor; the background worker anchors every
``audit_anchor_minutes`` when a chain moved. The token is made outside any transaction: the heads are read
in one, time-stamped, then kept in another (a head that moved meanwhile is simply anchored next time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta

from asn1crypto import cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from esign import anchors
from esign.anchors import Anchor
from esign.db import Database
from esign.ids import now
from esign.settings import Settings
from esign.signers import to_asn1

from . import authorities
from .authorities import Pki
from .levels import timestamper


def anchor(database: Database, *, pki: Pki, settings: Settings) -> Anchor | None:
    """Anchor the chains that moved since their last anchor; None when none did."""
    with database.transaction() as session:
        heads = anchors.due(session)
    if not heads:
        return None
    token = asyncio.run(timestamper(pki, settings).async_timestamp(anchors.imprint(heads), "sha256"))
    made = Anchor(heads=tuple(heads), token=token.dump())
    with database.transaction() as session:
        anchors.record(session, made)
    return made


def check_token(anchor: Anchor, *, pki: Pki) -> str | None:
    """Why the anchor's token is not a valid time-stamp of this service's unit over its heads; None if it is."""
    try:
        signed = cms.ContentInfo.load(anchor.token)["content"]
        context = ValidationContext(trust_roots=[to_asn1(pki.root.cert)], other_certs=[to_asn1(pki.tsa.cert)])
        status = asyncio.run(
            validate_tst_signed_data(signed, context, expected_tst_imprint=lambda _: anchors.imprint(anchor.heads))
        )
    except (ValueError, TypeError, KeyError, SignatureValidationError) as e:
        return f"the anchor's time-stamp token cannot be read: {e}"
    if not status["intact"] or not status["valid"]:
        return "the anchor's time-stamp token does not check out (altered)"
    if status["trust_problem_indic"] is not None:
        return "the anchor's time-stamp token is not from this service's time-stamping unit"
    return None


def anchoring_job(settings: Settings, *, every: timedelta | None = None) -> Callable[[Database], int]:
    """A worker job: anchors when the last anchor is ``every`` old (``audit_anchor_minutes``) and a chain moved;
    the number of chains anchored."""
    interval = every if every is not None else timedelta(minutes=settings.audit_anchor_minutes)

    def anchor_audit(database: Database) -> int:
        with database.transaction() as session:
            last = anchors.last_anchored_at(session)
            if last is not None and now() - last < interval:
                return 0
            pki = authorities.load(session, settings)
        made = anchor(database, pki=pki, settings=settings)
        return 0 if made is None else len(made.heads)

    return anchor_audit


def problems(anchors_: Sequence[Anchor], *, pki: Pki) -> list[str]:
    return [p for a in anchors_ if (p := check_token(a, pki=pki)) is not None]
