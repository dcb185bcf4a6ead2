"""chat moves: a group that became a supergroup, where its team and queue went

Revision ID: 0010
Revises: 0009

- chat_moves: one row per chat that lives on under a new id (Telegram gives a group
  upgraded to a supergroup a new id; the old one refuses everything). Written once, when
  the bot first learns of it (the 400 with `migrate_to_chat_id`, or the service
  messages); read by `dispatchbot team list` and `dispatchbot doctor`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_moves",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("old_chat_id", sa.String(length=64), nullable=False),
        sa.Column("new_chat_id", sa.String(length=64), nullable=False),
        sa.Column("team_code", sa.String(length=16), nullable=True),
        sa.Column("moved_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "old_chat_id"),
    )


def downgrade() -> None:
    op.drop_table("chat_moves")
