"""What a guided form asks: its questions, their kinds and their limits.

The questions of a step's form stand in that step's row (`handlers/steps.py`); the
clerk's new case is the one form that is no step, and its questions are here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class FieldKind(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"
    PHONE = "phone"
    CHOICE = "choice"
    PHOTOS = "photos"
    LOCATION = "location"


class FieldName(StrEnum):
    NOTE = "note"
    CUSTOMER_COST = "customer_cost"
    UTILITY_COST = "utility_cost"
    SERIAL = "serial"
    READING = "reading"
    PHOTOS = "photos"
    LOCATION = "location"
    KIND = "kind"
    TEAM = "team"
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    AREA = "area"
    PURPOSE = "purpose"
    DESCRIPTION = "description"


@dataclass(frozen=True)
class FieldSpec:
    name: FieldName
    kind: FieldKind
    optional: bool = False


def ask(name: FieldName, kind: FieldKind = FieldKind.TEXT) -> FieldSpec:
    """A question that must be answered."""
    return FieldSpec(name, kind)


def may_skip(name: FieldName, kind: FieldKind = FieldKind.TEXT) -> FieldSpec:
    """A question with «Bỏ qua» under it."""
    return FieldSpec(name, kind, optional=True)


#: The questions the step forms share.
NOTE = ask(FieldName.NOTE)
OPTIONAL_NOTE = may_skip(FieldName.NOTE)
PHOTOS = may_skip(FieldName.PHOTOS, FieldKind.PHOTOS)
LOCATION = may_skip(FieldName.LOCATION, FieldKind.LOCATION)
#: Where the field work happened: what was found, photos of it, the place.
FIELD_WORK = (NOTE, PHOTOS, LOCATION)

#: A clerk's (or a lead's) new case, field by field.
INTAKE_FIELDS = (
    ask(FieldName.KIND, FieldKind.CHOICE),
    ask(FieldName.TEAM, FieldKind.CHOICE),
    ask(FieldName.NAME),
    ask(FieldName.PHONE, FieldKind.PHONE),
    ask(FieldName.ADDRESS),
    ask(FieldName.AREA, FieldKind.CHOICE),
    ask(FieldName.PURPOSE, FieldKind.CHOICE),
    may_skip(FieldName.DESCRIPTION),
)
#: Fields asked only for kinds whose deadline depends on them (a new connection).
AREA_FIELDS = frozenset({FieldName.AREA, FieldName.PURPOSE})
#: Fields that may be known before the form starts: the clerk's own team, a forwarded text.
GIVEN_FIELDS = frozenset({FieldName.TEAM, FieldName.DESCRIPTION})

MAX_TEXT = 1000
MAX_SERIAL = 64
MAX_READING = 32
TEXT_LIMITS = {
    FieldName.SERIAL: MAX_SERIAL,
    FieldName.READING: MAX_READING,
    FieldName.NAME: 200,
    FieldName.ADDRESS: 500,
}


def plain(text: str) -> str:
    """Lower case letters and single spaces only: `✅ Xong!` → `xong`."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()
