"""find and board: a folded search key, look-up indexes, one-time board links

Revision ID: 0009
Revises: 0007

- cases.search_key: the case's ref, the desk's dossier number and the customer's name,
  folded (lower case, no diacritics: bot.domain.folding.search_key), so `/find tran van
  hung` finds "Trần Văn Hưng" with one LIKE on one column, on SQLite and PostgreSQL
  alike. Written with every save of a case; filled here for the cases stored before, in
  batches, by the same function. A purged case keeps only its ref and dossier number.
- ix_cases_customer_phone: `/find 0912 345 678` looks the whole number up.
- ix_case_events_actor: a clerk's `/mine` lists the cases whose intake she made.
- board_links: one-time links that open the lead's board outside Telegram (Zalo, a
  browser); only a digest of each token is kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables
from bot.domain.folding import search_key

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_key", sa.String(length=400), nullable=True))
        batch_op.create_index("ix_cases_customer_phone", ["customer_phone"], unique=False)
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_actor", ["actor", "action"], unique=False)
    op.create_table(
        "board_links",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=80), nullable=False),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_board_links_expires_at", "board_links", ["expires_at"], unique=False)
    _fill_search_keys()


def _fill_search_keys() -> None:
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer),
        sa.column("ref", sa.String),
        sa.column("external_ref", sa.String),
        sa.column("customer_name", sa.String),
        sa.column("search_key", sa.String),
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(cases.c.id, cases.c.ref, cases.c.external_ref, cases.c.customer_name)
            .where(cases.c.id > after)
            .order_by(cases.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(cases).where(cases.c.id == sa.bindparam("row_id")),
            [
                {"row_id": r.id, "search_key": search_key(r.ref, r.external_ref, r.customer_name)}
                for r in rows
            ],
        )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_board_links_expires_at", table_name="board_links")
    op.drop_table("board_links")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_actor")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_customer_phone")
        batch_op.drop_column("search_key")
