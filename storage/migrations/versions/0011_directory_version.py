"""directory version: one counter that moves with every change to people, teams or bindings

Revision ID: 0011
Revises: 0010

- directory_version: one row (id 1) whose `version` goes up in the same transaction as
  any write to members, identities, teams (code, name, language; not the case counter
  `next_seq`, which every intake moves) or team_chats. A process keeps what it read of
  those tables only while the counter stays where it was (storage/directory.py).
- The counter is moved by triggers, not by the code that writes: every writer is
  covered, the command line, an import, a test's raw SQL and a later feature alike, and
  always inside the writing transaction, so no reader can see the change without it.
- A later migration that rebuilds one of these tables on SQLite (batch mode copies it to
  a new table) drops its triggers with the old table: it must create them again
  (tests/integration/test_directory_copy.py fails without them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Each watched table and the writes that move the counter.
WATCHED = {
    "members": "INSERT OR UPDATE OR DELETE",
    "identities": "INSERT OR UPDATE OR DELETE",
    "team_chats": "INSERT OR UPDATE OR DELETE",
    "teams": "INSERT OR DELETE OR UPDATE OF code, name, lang",
}

BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO directory_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION directory_version_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table, writes in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER {table}_directory_version AFTER {writes} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION directory_version_bump()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_directory_version_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION directory_version_bump()"
            )
        return
    # SQLite: one trigger per kind of write, each row (it has no statement triggers).
    for table, writes in WATCHED.items():
        for write in writes.split(" OR "):
            name = write.split()[0].lower()
            op.execute(
                f"CREATE TRIGGER {table}_directory_version_{name} AFTER {write} ON {table} "
                f"BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_directory_version ON {table}")
            op.execute(f"DROP TRIGGER {table}_directory_version_truncate ON {table}")
        op.execute("DROP FUNCTION directory_version_bump()")
    else:
        for table, writes in WATCHED.items():
            for write in writes.split(" OR "):
                name = write.split()[0].lower()
                op.execute(f"DROP TRIGGER {table}_directory_version_{name}")
    op.drop_table("directory_version")
