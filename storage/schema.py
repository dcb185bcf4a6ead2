"""Schema upgrades through Alembic, run on an async engine, and where a database stands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Create or upgrade the schema; safe to run on every start."""

    def run(sync_conn: Connection) -> None:
        command.upgrade(alembic_config(sync_conn), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this version's migrations."""

    #: The database's revisions (none: no schema yet).
    current: frozenset[str]
    #: The latest revisions this version knows.
    heads: frozenset[str]
    #: Revisions of the database this version has never heard of (a newer version ran).
    unknown: frozenset[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.heads


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Read the database's revision and compare it with this version's, changing nothing."""
    script = ScriptDirectory.from_config(alembic_config())

    def read(sync_conn: Connection) -> frozenset[str]:
        return frozenset(MigrationContext.configure(sync_conn).get_current_heads())

    async with engine.connect() as conn:
        current = await conn.run_sync(read)
    unknown: set[str] = set()
    for revision in current:
        try:
            found = script.get_revision(revision)
        except CommandError:
            found = None
        if found is None:
            unknown.add(revision)
    return SchemaState(current, frozenset(script.get_heads()), frozenset(unknown))


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite DATABASE_URL (None: another database, or one in memory).

    Connecting to a missing file would create an empty one; a reader checks first.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
