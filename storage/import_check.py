"""Reading and checking a cases CSV file for `dispatchbot import cases`.

The whole file is checked before anything is written: every problem is named by
line and column, where the person editing the file will look for it. Nothing here
touches the database; `storage.importer` writes what passes.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO, TypeVar

from bot.domain.amounts import AmountError, parse_vnd
from bot.domain.model import Area, CaseKind, CaseStatus, Purpose
from bot.domain.phone import PhoneError, PhoneErrorReason, normalize_phone
from bot.sla.policy import Policy

#: The contract's columns, in the order `export` writes them.
COLUMNS: tuple[str, ...] = (
    "external_ref",
    "kind",
    "team",
    "area",
    "purpose",
    "customer_name",
    "customer_phone",
    "address",
    "description",
    "received_at",
    "claimed_at",
    "surveyed_at",
    "estimated_at",
    "agreed_at",
    "installed_at",
    "inspected_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "assignee",
    "customer_cost",
    "utility_cost",
    "meter_serial",
    "satisfaction",
)
#: Our one addition to the contract's columns: the spans a case spent on hold,
#: `START/END` in ISO 8601, separated by `;` (END empty: still on hold). Without
#: it an exported case would lose its holds, and its working days would change.
HOLDS = "holds"
KNOWN_COLUMNS: tuple[str, ...] = (*COLUMNS, HOLDS)
REQUIRED_COLUMNS = (
    "external_ref",
    "kind",
    "team",
    "customer_name",
    "customer_phone",
    "address",
    "received_at",
)
#: The column holding the time each step was reached.
STEP_COLUMN: dict[CaseStatus, str] = {
    CaseStatus.CLAIMED: "claimed_at",
    CaseStatus.SURVEYED: "surveyed_at",
    CaseStatus.ESTIMATED: "estimated_at",
    CaseStatus.AGREED: "agreed_at",
    CaseStatus.INSTALLED: "installed_at",
    CaseStatus.INSPECTED: "inspected_at",
    CaseStatus.RESOLVED: "resolved_at",
    CaseStatus.CLOSED: "closed_at",
}
#: Errors listed at most; the count of the others is given.
MAX_ERRORS = 200
#: Years a time in the file may have (due times are counted on from it).
MIN_YEAR, MAX_YEAR = 1970, 2100

_LIMITS = {
    "external_ref": 128,
    "customer_name": 200,
    "customer_phone": 64,
    "address": 500,
    "assignee": 80,
    "meter_serial": 64,
}
_PHONE_PROBLEM = {
    PhoneErrorReason.EMPTY: "is empty",
    PhoneErrorReason.BAD_CHARACTERS: "has characters a phone number does not have",
    PhoneErrorReason.WRONG_LENGTH: "has the wrong number of digits",
    PhoneErrorReason.UNKNOWN_PREFIX: "does not start like a Vietnamese number (03, 05, 07, 08, "
    "09 for mobiles, 02 for landlines)",
}

#: Called as (phase, done, total): phase "check" then "load".
Progress = Callable[[str, int, int], None]
ChoiceEnum = TypeVar("ChoiceEnum", CaseKind, Area, Purpose)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class RowError:
    """One problem, where the person editing the file will look for it."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportFailed(Exception):
    """Nothing was loaded; `errors` says why, row by row."""

    def __init__(self, errors: Sequence[RowError], total: int | None = None) -> None:
        self.errors = list(errors)
        self.total = total if total is not None else len(self.errors)
        super().__init__(f"{self.total} error(s); nothing was loaded")


@dataclass(frozen=True)
class ParsedRow:
    line: int
    external_ref: str
    kind: CaseKind
    team: str
    area: Area | None
    purpose: Purpose | None
    customer_name: str
    customer_phone: str
    address: str
    description: str
    received_at: datetime
    steps: dict[CaseStatus, datetime]
    cancelled_at: datetime | None
    holds: tuple[tuple[datetime, datetime | None], ...]
    assignee: str | None
    customer_cost: int | None
    utility_cost: int | None
    meter_serial: str | None
    satisfaction: int | None


# ----------------------------------------------------------------------------- reading
@dataclass
class _Reader:
    """Rows of the file with the line each one starts on (a quoted cell may span lines)."""

    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


def read_csv(stream: TextIO) -> _Reader:
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed(
            [RowError(1, None, "the file is empty; a header row is needed")]
        ) from None
    except csv.Error as e:
        raise ImportFailed([RowError(1, None, f"is not CSV: {e}")]) from None
    out = _Reader([h.strip() for h in header])
    start = reader.line_num + 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                out.rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as e:
        raise ImportFailed([RowError(start, None, f"is not valid CSV: {e}")]) from None
    return out


def _check_header(header: list[str]) -> list[RowError]:
    errors: list[RowError] = []
    seen: set[str] = set()
    known = ", ".join(KNOWN_COLUMNS)
    for name in header:
        if name not in KNOWN_COLUMNS:
            errors.append(RowError(1, name or "(empty)", f"is not a known column; known: {known}"))
        elif name in seen:
            errors.append(RowError(1, name, "appears twice in the header"))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            errors.append(RowError(1, name, "is missing from the header"))
    return errors


# ----------------------------------------------------------------------------- checking
class _Row:
    """One row's cells by column name, collecting every error of the row."""

    def __init__(self, line: int, values: Mapping[str, str]) -> None:
        self.line = line
        self.values = values
        self.errors: list[RowError] = []

    def error(self, column: str | None, message: str) -> None:
        self.errors.append(RowError(self.line, column, message))

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.values.get(column, "").strip()
        if required and not value:
            self.error(column, "is empty; it is required")
        limit = _LIMITS.get(column)
        if limit is not None and len(value) > limit:
            self.error(column, f"is longer than {limit} characters")
        return value

    def time(self, column: str, *, required: bool = False) -> datetime | None:
        value = self.text(column, required=required)
        if not value:
            return None
        return self._parse_time(column, value)

    def _parse_time(self, column: str, value: str) -> datetime | None:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            example = "2026-11-27T08:15:00+07:00"
            self.error(column, f"{value[:40]!r} is not an ISO 8601 time like {example}")
            return None
        if at.tzinfo is None or at.utcoffset() is None:
            self.error(column, f"{value[:40]!r} has no UTC offset; add one, e.g. +07:00")
            return None
        if not MIN_YEAR <= at.year <= MAX_YEAR:  # due times are counted from it: keep it sane
            self.error(column, f"{value[:40]!r} is not between {MIN_YEAR} and {MAX_YEAR}")
            return None
        return at

    def choice(
        self, column: str, enum: type[ChoiceEnum], *, required: bool = False
    ) -> ChoiceEnum | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            return enum(value.lower())
        except ValueError:
            known = ", ".join(m.value for m in enum)
            self.error(column, f"{value[:40]!r} is not one of: {known}")
            return None


def _check_row(
    row: _Row,
    policy: Policy,
    teams: set[str],
    members: set[str],
) -> ParsedRow | None:
    external_ref = row.text("external_ref", required=True)
    kind = row.choice("kind", CaseKind, required=True)
    team = row.text("team", required=True).upper()
    if team and team not in teams:
        row.error("team", f"no team {team}; create it first with `dispatchbot team add`")
    area = row.choice("area", Area)
    purpose = row.choice("purpose", Purpose)
    # A finished case may come from a database whose personal data was purged.
    finished = bool(
        row.values.get("closed_at", "").strip() or row.values.get("cancelled_at", "").strip()
    )
    name = row.text("customer_name", required=True)
    address = row.text("address", required=not finished)
    description = row.values.get("description", "").strip()
    phone = _phone(row, required=not finished)
    received = row.time("received_at", required=True)

    steps = _steps(row, policy, kind, received)
    cancelled = row.time("cancelled_at")
    last_step = max(steps.values(), default=received)
    if cancelled is not None:
        if CaseStatus.CLOSED in steps:
            row.error("cancelled_at", "a closed case cannot also be cancelled")
        elif last_step is not None and cancelled < last_step:
            row.error("cancelled_at", "is before the last step reached")
    holds = _holds(row, received, steps, cancelled)

    assignee = row.text("assignee") or None
    if assignee is not None and assignee not in members:
        row.error(
            "assignee", f"no member {assignee}; register them first with `dispatchbot member add`"
        )
    if CaseStatus.CLAIMED in steps and assignee is None:
        row.error("assignee", "is empty, but claimed_at is set: who claimed the case?")
    if CaseStatus.CLAIMED not in steps and assignee is not None:
        row.error("assignee", "is set, but claimed_at is empty")

    customer_cost = _amount(row, "customer_cost")
    utility_cost = _amount(row, "utility_cost")
    if (customer_cost is None) != (utility_cost is None):
        column = "utility_cost" if utility_cost is None else "customer_cost"
        row.error(column, "is empty; give both costs, or neither")

    satisfaction = _satisfaction(row, kind, policy, steps)
    meter_serial = row.text("meter_serial") or None

    if row.errors or kind is None or received is None or phone is None:
        return None
    return ParsedRow(
        line=row.line,
        external_ref=external_ref,
        kind=kind,
        team=team,
        area=area,
        purpose=purpose,
        customer_name=name,
        customer_phone=phone,
        address=address,
        description=description,
        received_at=received,
        steps=steps,
        cancelled_at=cancelled,
        holds=holds,
        assignee=assignee,
        customer_cost=customer_cost,
        utility_cost=utility_cost,
        meter_serial=meter_serial,
        satisfaction=satisfaction,
    )


def _phone(row: _Row, *, required: bool) -> str | None:
    """Normalized like the intake API does; the number itself never goes into a message."""
    raw = row.text("customer_phone", required=required)
    if not raw:
        return None if required else ""
    try:
        return normalize_phone(raw)
    except PhoneError as e:
        row.error("customer_phone", _PHONE_PROBLEM.get(e.reason, "is not a phone number"))
        return None


def _steps(
    row: _Row, policy: Policy, kind: CaseKind | None, received: datetime | None
) -> dict[CaseStatus, datetime]:
    """Each step's time; the steps reached must be the first ones of the kind, in order."""
    given: dict[CaseStatus, datetime] = {}
    for step, column in STEP_COLUMN.items():
        at = row.time(column)
        if at is not None:
            given[step] = at
    if kind is not None:
        _check_order(row, policy.workflow.steps_of(kind), kind, received, given)
    return given


def _check_order(
    row: _Row,
    path: Sequence[CaseStatus],
    kind: CaseKind,
    received: datetime | None,
    given: dict[CaseStatus, datetime],
) -> None:
    for step in given:
        if step not in path:
            row.error(STEP_COLUMN[step], f"{step.value} is not a step of {kind.value}")
    previous_column = "received_at"
    previous_at = received
    missing: str | None = None
    for step in path[1:]:
        column = STEP_COLUMN[step]
        at = given.get(step)
        if at is None:
            missing = missing or column
            continue
        if missing is not None:
            row.error(column, f"is set, but {missing} is empty: steps are reached in order")
            missing = None
        if previous_at is not None and at < previous_at:
            row.error(column, f"is before {previous_column}")
        previous_column, previous_at = column, at


def _holds(
    row: _Row,
    received: datetime | None,
    steps: dict[CaseStatus, datetime],
    cancelled: datetime | None,
) -> tuple[tuple[datetime, datetime | None], ...]:
    raw = row.text(HOLDS)
    if not raw:
        return ()
    spans: list[tuple[datetime, datetime | None]] = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        start_text, slash, end_text = part.partition("/")
        if not slash:
            row.error(HOLDS, f"{part[:60]!r} is not START/END (END empty while still on hold)")
            continue
        start = row._parse_time(HOLDS, start_text.strip())
        end = row._parse_time(HOLDS, end_text.strip()) if end_text.strip() else None
        if start is None or (end_text.strip() and end is None):
            continue
        if end is not None and end < start:
            row.error(HOLDS, f"{part[:60]!r} ends before it starts")
            continue
        spans.append((start, end))
    spans.sort(key=lambda s: s[0])
    for i, (start, end) in enumerate(spans):
        if received is not None and start < received:
            row.error(HOLDS, "a hold starts before received_at")
        if end is None and i != len(spans) - 1:
            row.error(HOLDS, "only the last hold may be open (no END)")
        if i and (spans[i - 1][1] is None or start < spans[i - 1][1]):  # type: ignore[operator]
            row.error(HOLDS, "holds overlap")
        stop = end
        for step, at in steps.items():
            if at > start and (stop is None or at < stop):
                row.error(HOLDS, f"{STEP_COLUMN[step]} falls inside a hold")
        if cancelled is not None and cancelled < start:
            row.error(HOLDS, "a hold starts after cancelled_at")
    return tuple(spans)


def _amount(row: _Row, column: str) -> int | None:
    value = row.text(column)
    if not value:
        return None
    try:
        return parse_vnd(value)
    except AmountError:
        row.error(column, f"{value[:40]!r} is not an amount in đồng, e.g. 1500000 or 1,5tr")
        return None


def _satisfaction(
    row: _Row, kind: CaseKind | None, policy: Policy, steps: dict[CaseStatus, datetime]
) -> int | None:
    value = row.text("satisfaction")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 10:
        row.error("satisfaction", f"{value[:10]!r} is not a score from 1 to 10")
        return None
    if kind is not None and policy.workflow.completion_step(kind) not in steps:
        done = STEP_COLUMN[policy.workflow.completion_step(kind)]
        row.error("satisfaction", f"is set, but {done} is empty: a score comes after the work")
        return None
    return int(value)


def validate(
    data: _Reader,
    policy: Policy,
    teams: set[str],
    members: set[str],
    progress: Progress | None = None,
) -> list[ParsedRow]:
    """Every row checked; raises ImportFailed listing every problem of the file."""
    errors = _check_header(data.header)
    if errors:
        raise ImportFailed(errors)
    parsed: list[ParsedRow] = []
    first_line: dict[str, int] = {}
    total = len(data.rows)
    for i, (line, cells) in enumerate(data.rows, start=1):
        if len(cells) != len(data.header):
            errors.append(
                RowError(line, None, f"has {len(cells)} cells, the header has {len(data.header)}")
            )
            continue
        row = _Row(line, dict(zip(data.header, cells, strict=True)))
        for name, cell in row.values.items():
            if "\x00" in cell:  # PostgreSQL cannot store it in a text column
                row.error(name, "contains a NUL character (\\x00); remove it")
        result = _check_row(row, policy, teams, members)
        ref = row.values.get("external_ref", "").strip()
        if ref:
            if ref in first_line:
                row.error("external_ref", f"{ref!r} is already on line {first_line[ref]}")
            else:
                first_line[ref] = line
        errors.extend(row.errors)
        if result is not None and not row.errors:
            parsed.append(result)
        if progress is not None and (i % 1000 == 0 or i == total):
            progress("check", i, total)
    if errors:
        raise ImportFailed(errors[:MAX_ERRORS], total=len(errors))
    return parsed
