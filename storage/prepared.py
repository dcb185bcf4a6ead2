"""Statements an update runs every time are built once, not per call.

Building a statement (coercing each value into a bound parameter, each comparison into a
clause) and computing its cache key cost SQLAlchemy more CPU than running it on SQLite.
The cache key is remembered per statement *object*, so one built once (at import, with
`sa.bindparam` placeholders) and run as `conn.execute(STATEMENT, {name: value})` costs
neither. An INSERT or UPDATE without `.values()` writes the columns named by the keys of
the dict it is given, converted by their column types as `.values()` would; callers give
the same keys every time, as the key set is part of the compiled statement's cache key.
Placeholders in a WHERE clause are named `b_…`: a column's own name is reserved for the
value written to it.

Cold paths (imports, admin commands) build their statements as they go.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.engine import insert_ignoring_duplicates

_SKIPPING: dict[tuple[str, sa.Table], Any] = {}


def skipping_insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING into `table`, built once per dialect."""
    key = (conn.dialect.name, table)
    found = _SKIPPING.get(key)
    if found is None:
        found = _SKIPPING[key] = insert_ignoring_duplicates(conn, table).on_conflict_do_nothing()
    return found
