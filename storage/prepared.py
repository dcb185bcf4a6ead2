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

Statements built here that are short and go by an index are registered with
`storage.sqlite_driver.quick`: on SQLite they skip the trip to the connection's thread
inside a write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.engine import insert_ignoring_duplicates
from storage.sqlite_driver import quick

_BY_DIALECT: dict[tuple[str, Hashable], Any] = {}


def per_dialect(
    conn: AsyncConnection, name: Hashable, build: Callable[[AsyncConnection], Any]
) -> Any:
    """The statement `name` whose SQL differs by dialect (INSERT … ON CONFLICT), built
    once per dialect by `build`."""
    key = (conn.dialect.name, name)
    found = _BY_DIALECT.get(key)
    if found is None:
        found = _BY_DIALECT[key] = build(conn)
    return found


def skipping_insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING into `table`, built once per dialect (quick: many
    rows at once go as executemany, which always makes the trip)."""
    return per_dialect(conn, table, lambda c: _quick_insert(c, table))


def _quick_insert(conn: AsyncConnection, table: sa.Table) -> Any:
    insert = insert_ignoring_duplicates(conn, table).on_conflict_do_nothing()
    quick(insert)
    return insert
