"""Who is acting: an official (through their token) or an external system of one organisation."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import Forbidden


class Role(enum.StrEnum):
    OFFICIAL = "official"
    LEADER = "leader"
    CLERK = "clerk"
    SEAL_CUSTODIAN = "seal_custodian"
    ADMIN = "admin"


class Scope(enum.StrEnum):
    """What a token may be used for, on top of what its holder's roles allow."""

    ADMIN = "admin"
    SIGN = "sign"
    DOCUMENTS = "documents"


@dataclass(frozen=True)
class Actor:
    organisation_id: str
    official_id: str | None
    system_name: str | None
    roles: frozenset[Role]
    scopes: frozenset[Scope]
    token_id: str | None = None

    @classmethod
    def operator(cls, organisation_id: str = "") -> Actor:
        """The deployment's operator, acting through the CLI inside one organisation (or, with no organisation,
        on the deployment itself: creating an organisation)."""
        return cls(
            organisation_id=organisation_id,
            official_id=None,
            system_name="operator",
            roles=frozenset(Role),
            scopes=frozenset(Scope),
        )

    @classmethod
    def system(cls, organisation_id: str, name: str) -> Actor:
        """Work the system does by itself inside an organisation (starting a route on arrival, closing one):
        no roles, no scopes; audited as ``system:<name>``."""
        return cls(
            organisation_id=organisation_id, official_id=None, system_name=name, roles=frozenset(), scopes=frozenset()
        )

    @property
    def label(self) -> str:
        """How the audit log names this actor."""
        return f"official:{self.official_id}" if self.official_id else f"system:{self.system_name}"

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def require_admin(self) -> None:
        """Officials need the admin role; system tokens the admin scope (which only an operator grants)."""
        if not self.can(Scope.ADMIN) or (self.official_id is not None and Role.ADMIN not in self.roles):
            raise Forbidden("this needs an administrator of the organisation")

    def require_official(self) -> str:
        if self.official_id is None:
            raise Forbidden("only an official can do this, not a system token")
        return self.official_id
