"""external_ref is unique per integration, not across integrations

Revision ID: 0007
Revises: 0005

- cases.integration: who filed the case under its external_ref, the actor of its
  intake (`api:desk` for the intake token named desk, `api:intake` for INTAKE_TOKEN,
  `import` for `dispatchbot import cases`).
- The unique constraint moves from (external_ref) to (integration, external_ref):
  two desks may number their dossiers alike, and one desk's number must never
  answer with another desk's case.

Cases stored before: their integration is the actor recorded on their intake
history event, so each integration keeps finding (and not duplicating) the cases
it filed. A case with an external_ref but no intake event (none is known to
exist) is given `api:intake`, the plain INTAKE_TOKEN's name.

SQLite cannot drop a table's own UNIQUE clause, so the table is rebuilt. Alembic's
batch mode would rename a copy over it, which SQLite's foreign keys (on in every
connection of ours) refuse at commit: history, evidence and chat messages point at
the old table. So the rows are kept aside, the table is dropped and created again
under its own name, and the rows are inserted back, which satisfies the deferred
foreign keys. The new table is the reflected old one with only this change, so a
column another migration added survives.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NEW_UNIQUE = "uq_cases_integration_external_ref"
#: PostgreSQL's name for the unnamed UNIQUE (external_ref) of 0001.
OLD_UNIQUE = "cases_external_ref_key"

_BACKFILL = """
UPDATE cases SET integration = COALESCE(
    (SELECT e.actor FROM case_events e
     WHERE e.case_id = cases.id AND e.action = 'intake'
     ORDER BY e.id LIMIT 1),
    'api:intake')
WHERE external_ref IS NOT NULL
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(bind, _per_integration)
    else:
        op.add_column("cases", sa.Column("integration", sa.String(length=80), nullable=True))
        for name in _unique_names(bind, ["external_ref"]):
            op.drop_constraint(name, "cases", type_="unique")
        op.create_unique_constraint(NEW_UNIQUE, "cases", ["integration", "external_ref"])
    op.execute(_BACKFILL)


def downgrade() -> None:
    """Back to one namespace; fails if two integrations used the same external_ref."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(bind, _global, leave_out=frozenset({"integration"}))
    else:
        op.drop_constraint(NEW_UNIQUE, "cases", type_="unique")
        op.drop_column("cases", "integration")
        op.create_unique_constraint(OLD_UNIQUE, "cases", ["external_ref"])


def _unique_names(bind: Connection, columns: list[str]) -> list[str]:
    found = sa.inspect(bind).get_unique_constraints("cases")
    return [str(u["name"]) for u in found if u["column_names"] == columns and u["name"]]


def _is_unique_on(constraint: sa.Constraint, columns: list[str]) -> bool:
    return (
        isinstance(constraint, sa.UniqueConstraint)
        and [c.name for c in constraint.columns] == columns
    )


def _per_integration(cases: sa.Table) -> None:
    """Drop UNIQUE (external_ref), add the column and UNIQUE (integration, external_ref)."""
    for constraint in list(cases.constraints):
        if _is_unique_on(constraint, ["external_ref"]):
            cases.constraints.remove(constraint)
    cases.append_column(sa.Column("integration", sa.String(length=80), nullable=True))
    cases.append_constraint(sa.UniqueConstraint("integration", "external_ref", name=NEW_UNIQUE))


def _global(cases: sa.Table) -> None:
    """The column is left out when reflecting (and its constraint with it)."""
    cases.append_constraint(sa.UniqueConstraint("external_ref"))


def _rebuild_sqlite(
    bind: Connection, change: Callable[[sa.Table], None], leave_out: frozenset[str] = frozenset()
) -> None:
    """Rebuild `cases` as `change` makes it, keeping every row, id and foreign key."""
    names = [str(c["name"]) for c in sa.inspect(bind).get_columns("cases")]
    reflected = sa.MetaData()
    wanted = [name for name in names if name not in leave_out]
    sa.Table("cases", reflected, autoload_with=bind, include_columns=wanted)
    rebuilt = sa.MetaData()
    for table in reflected.sorted_tables:  # cases and the tables it points at
        table.to_metadata(rebuilt)
    cases = rebuilt.tables["cases"]
    kept = [c.name for c in cases.columns]
    change(cases)
    columns = ", ".join(f'"{name}"' for name in kept)
    bind.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until the commit
    bind.exec_driver_sql("CREATE TEMP TABLE cases_0007 AS SELECT * FROM cases")
    bind.exec_driver_sql("DROP TABLE cases")
    cases.create(bind)
    bind.exec_driver_sql(f"INSERT INTO cases ({columns}) SELECT {columns} FROM cases_0007")
    bind.exec_driver_sql("DROP TABLE cases_0007")
