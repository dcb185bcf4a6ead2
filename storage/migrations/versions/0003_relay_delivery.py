"""relay delivery across instances: per-chat queue state, send progress, live instances;
webhook updates claimed before they are handled

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=12), server_default="done", nullable=False)
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sending_at", storage.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("uncertain", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_outbox_chat_queue", ["channel", "chat_id", "status", "id"], unique=False
        )

    op.create_table(
        "outbox_chats",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_until", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("not_before", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pacing", sa.JSON(), nullable=True),
        sa.Column("failed_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("channel", "chat_id"),
    )
    op.create_table(
        "relay_instances",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("started_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_column("state")
    op.drop_table("relay_instances")
    op.drop_table("outbox_chats")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat_queue")
        batch_op.drop_column("uncertain")
        batch_op.drop_column("sending_at")
        batch_op.drop_column("parts_sent")
