"""The revoked certificates of an issuer by expiry: what a CRL lists and a signature's validation data reads,
found among every certificate the PKI ever issued (one per official and seal, renewed every two or three
years) without reading them all.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REVOKED = "revoked_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_issued_certificates_revoked",
        "issued_certificates",
        ["issuer", "not_after"],
        postgresql_where=sa.text(_REVOKED),
        sqlite_where=sa.text(_REVOKED),
    )


def downgrade() -> None:
    op.drop_index("ix_issued_certificates_revoked", table_name="issued_certificates")
