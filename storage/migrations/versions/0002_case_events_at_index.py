"""index case events by time, for the daily digest and the reports

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_events_at", "case_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_events_at", table_name="case_events")
