"""A CA key kept in a PKCS#11 token: the authority's row names it by its ``pkcs11:`` URI and holds no key.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pki_authorities") as batch:
        batch.add_column(sa.Column("key_uri", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pki_authorities") as batch:
        batch.drop_column("key_uri")
