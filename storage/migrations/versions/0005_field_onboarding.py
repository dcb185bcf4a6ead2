"""phone-first field work: form versions, invite progress and link codes

Revision ID: 0005
Revises: 0004

- forms.version: a form answered by two messages at once keeps both answers
  (conditional update), and an index to sweep expired forms.
- invites: kind (team invite or link code), status (open, pending, approved,
  declined, linked), the member a link code joins, who opened it (joiner) and
  who decided; team_code becomes nullable (a clerk serving every team has none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_forms_expires_at", ["expires_at"], unique=False)

    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.alter_column("team_code", existing_type=sa.String(length=16), nullable=True)
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="team", nullable=False)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="open", nullable=False)
        )
        batch_op.add_column(sa.Column("member_uid", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("joiner", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column("decided_at", storage.tables.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("joiner")
        batch_op.drop_column("member_uid")
        batch_op.drop_column("status")
        batch_op.drop_column("kind")
        batch_op.alter_column("team_code", existing_type=sa.String(length=16), nullable=False)

    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_index("ix_forms_expires_at")
        batch_op.drop_column("version")
