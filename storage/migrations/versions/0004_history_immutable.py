"""history is append-only: the database refuses UPDATE and DELETE on case_events

Revision ID: 0004
Revises: 0003

The code has no path that changes a history event; this guard makes that true
for anyone with a SQL prompt too (short of dropping the trigger, which shows in
the schema).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MESSAGE = "case history is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION case_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'restrict_violation';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            """
            CREATE TRIGGER case_events_append_only
            BEFORE UPDATE OR DELETE ON case_events
            FOR EACH ROW EXECUTE FUNCTION case_events_append_only()
            """
        )
        op.execute(
            """
            CREATE TRIGGER case_events_no_truncate
            BEFORE TRUNCATE ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only()
            """
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER case_events_no_{verb.lower()}
                BEFORE {verb} ON case_events
                BEGIN
                    SELECT RAISE(ABORT, '{_MESSAGE}');
                END
                """
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
        op.execute("DROP FUNCTION IF EXISTS case_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS case_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS case_events_no_delete")
