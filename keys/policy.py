"""How this deployment validates signatures: one trust policy for every caller that verifies (API and pages)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from esign.settings import Settings
from esign.trust import TrustSettings

from . import authorities, levels
from .errors import PkiNotInitialised


@dataclass(frozen=True)
class Policy:
    """The configured trust anchors, plus its own PKI's root with the PKI's current revocation data once the PKI
    exists."""

    settings: Settings
    base: TrustSettings

    def trust(self, session: Session, *, extra_anchors: Iterable[bytes] = ()) -> TrustSettings:
        """The trust to verify with now, read in the caller's transaction (the CRLs are current ones)."""
        extra = tuple(extra_anchors)
        trust = self.base.with_anchors(*extra) if extra else self.base
        try:
            pki = authorities.load(session, self.settings)
        except PkiNotInitialised:
            return trust
        return levels.trust_with_own_pki(session, pki=pki, settings=self.settings, base=trust)
