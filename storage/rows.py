"""Dataclasses stored one field a column, the column named as the field.

Where a table keeps a dataclass that way, the mapping is written once here rather than
field by field in each store; a field stored otherwise (an enum, JSON, another name) is
given by the caller.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Stored = TypeVar("Stored", bound="DataclassInstance")


@cache
def _fields(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def from_row(cls: type[Stored], row: sa.Row[Any], **read: Any) -> Stored:
    """`cls` with each field read from the column of its name; `read` gives the fields
    whose column needs more than reading (an enum, JSON, a column named otherwise)."""
    columns = row._mapping
    found = {name: columns[name] for name in _fields(cls) if name not in read}
    return cls(**found, **read)


def row_values(item: DataclassInstance) -> dict[str, Any]:
    """The columns `item` is written in: each field under its name, an enum as its value."""
    values = {name: getattr(item, name) for name in _fields(type(item))}
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}
