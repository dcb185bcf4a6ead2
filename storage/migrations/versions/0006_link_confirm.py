"""link codes are confirmed by the account that made them

Revision ID: 0006
Revises: 0005

- invites.created_via: the channel account (`channel:id`) that made a link code.
  Opening the code on another channel only asks; that account confirms. Codes
  made before this revision have none, so nobody can confirm them: they expire.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_via", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("created_via")
